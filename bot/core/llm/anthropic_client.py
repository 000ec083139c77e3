"""Anthropic's Messages API through the ``anthropic`` SDK, the reply streamed.

No ``temperature`` is sent: the current API version removed it (a request with one is
refused), so the prompt cache is what makes a re-run give the same reply.
"""

from __future__ import annotations

import time

import anthropic

from bot.core.llm.completion import Completion, Retrying
from bot.core.llm.retry import RetryPolicy
from bot.core.llm.sdk_call import SdkErrors, until

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
        self._timeout = timeout
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    def complete(
        self,
        system: str,
        user: str,
        *,
        max_tokens: int,
        temperature: float = 0.0,
        on_retry: Retrying | None = None,
    ) -> Completion:
        # ``temperature`` is not sent: Anthropic's current API has none (sending it is an error).
        def ask() -> Completion:
            deadline = time.monotonic() + self._timeout
            stream = self._client.messages.create(
                model=self.model,
                max_tokens=max_tokens,
                system=system,
                messages=[{"role": "user", "content": user}],
                stream=True,
            )
            parts: list[str] = []
            input_tokens = output_tokens = 0
            for event in until(stream, deadline):
                if event.type == "message_start":
                    input_tokens = event.message.usage.input_tokens
                elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                    parts.append(event.delta.text)
                elif event.type == "message_delta":
                    output_tokens = event.usage.output_tokens
            return Completion("".join(parts), input_tokens, output_tokens)

        return ERRORS.complete(ask, self._policy, self._secrets, on_retry)
