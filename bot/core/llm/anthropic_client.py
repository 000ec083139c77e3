"""Anthropic's Messages API through the ``anthropic`` SDK."""

from __future__ import annotations

import anthropic

from bot.core.llm.completion import Completion
from bot.core.llm.retry import RetryPolicy
from bot.core.llm.sdk_call import SdkErrors

ERRORS = SdkErrors(
    anthropic.AnthropicError,
    anthropic.APIStatusError,
    anthropic.APIConnectionError,
    anthropic.APITimeoutError,
)


class AnthropicChat:
    """One Claude model behind ``/v1/messages``."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None,
        timeout: float,
        policy: RetryPolicy,
    ) -> None:
        self.model = model
        self._secrets = (api_key,)
        self._policy = policy
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    def complete(self, system: str, user: str, *, max_tokens: int) -> Completion:
        response = ERRORS.call(
            lambda: self._client.messages.create(
                model=self.model,
                max_tokens=max_tokens,
                system=system,
                messages=[{"role": "user", "content": user}],
            ),
            self._policy,
            self._secrets,
        )
        text = "".join(block.text for block in response.content if block.type == "text")
        return Completion(text, response.usage.input_tokens, response.usage.output_tokens)
