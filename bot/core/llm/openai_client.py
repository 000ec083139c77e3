"""OpenAI's chat completions through the ``openai`` SDK: OpenAI itself or any endpoint that
speaks its API (a local model server is the common case)."""

from __future__ import annotations

import time

import openai

from bot.core.llm.completion import Completion, Retrying
from bot.core.llm.retry import RetryPolicy
from bot.core.llm.sdk_call import SdkErrors, until

ERRORS = SdkErrors(
    openai.OpenAIError, openai.APIStatusError, openai.APIConnectionError, openai.APITimeoutError
)


class OpenAIChat:
    """One model behind an OpenAI-style ``/chat/completions`` endpoint, its reply streamed.

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
        self._timeout = timeout
        self._compatible = compatible
        self._client = openai.OpenAI(
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
        messages: list[openai.types.chat.ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        compatible = self._compatible

        def ask() -> Completion:
            deadline = time.monotonic() + self._timeout
            stream = self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=temperature,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=max_tokens if compatible else openai.omit,
                max_completion_tokens=openai.omit if compatible else max_tokens,
            )
            parts: list[str] = []
            usage = None
            for chunk in until(stream, deadline):
                usage = chunk.usage or usage
                parts.extend(c.delta.content for c in chunk.choices if c.delta.content)
            text = "".join(parts)
            if usage is None:  # some compatible servers omit it: estimate, so budgets bind
                return Completion(text, (len(system) + len(user)) // 4, len(text) // 4)
            return Completion(text, usage.prompt_tokens, usage.completion_tokens)

        return ERRORS.complete(ask, self._policy, self._secrets, on_retry)
