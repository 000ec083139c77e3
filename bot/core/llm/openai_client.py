"""OpenAI's chat completions through the ``openai`` SDK: OpenAI itself or any endpoint that
speaks its API (a local model server is the common case)."""

from __future__ import annotations

import openai

from bot.core.llm.completion import Completion, ModelUnavailable
from bot.core.llm.retry import RetryPolicy
from bot.core.llm.sdk_call import SdkErrors

ERRORS = SdkErrors(
    openai.OpenAIError, openai.APIStatusError, openai.APIConnectionError, openai.APITimeoutError
)


class OpenAIChat:
    """One model behind an OpenAI-style ``/chat/completions`` endpoint.

    ``compatible`` endpoints get the classic ``max_tokens`` field; OpenAI itself gets
    ``max_completion_tokens``, which its newer models require.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None,
        timeout: float,
        policy: RetryPolicy,
        compatible: bool = False,
    ) -> None:
        self.model = model
        self._secrets = (api_key,)
        self._policy = policy
        self._compatible = compatible
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    def complete(self, system: str, user: str, *, max_tokens: int) -> Completion:
        messages: list[openai.types.chat.ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]

        def ask() -> openai.types.chat.ChatCompletion:
            if self._compatible:
                return self._client.chat.completions.create(
                    model=self.model, messages=messages, max_tokens=max_tokens
                )
            return self._client.chat.completions.create(
                model=self.model, messages=messages, max_completion_tokens=max_tokens
            )

        response = ERRORS.call(ask, self._policy, self._secrets)
        if not response.choices:
            raise ModelUnavailable("the reply has no choices")
        text = response.choices[0].message.content or ""
        usage = response.usage
        if usage is None:  # some compatible servers omit it: estimate, so budgets still bind
            return Completion(text, (len(system) + len(user)) // 4, len(text) // 4)
        return Completion(text, usage.prompt_tokens, usage.completion_tokens)
