"""Anthropic's Messages API through the ``anthropic`` SDK."""

from __future__ import annotations

import anthropic

from bot.core.llm.completion import Completion, ModelUnavailable, redact
from bot.core.llm.retry import (
    RetryPolicy,
    call_with_retries,
    is_retryable_status,
    retry_after_seconds,
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
        try:
            response = call_with_retries(
                lambda: self._client.messages.create(
                    model=self.model,
                    max_tokens=max_tokens,
                    system=system,
                    messages=[{"role": "user", "content": user}],
                ),
                self._policy,
                retryable=_retryable,
                asked_wait=_asked_wait,
            )
        except anthropic.APITimeoutError:
            raise ModelUnavailable("no answer before the timeout") from None
        except anthropic.APIStatusError as exc:
            raise ModelUnavailable(
                f"HTTP {exc.status_code}: {redact(exc.message, self._secrets)}"
            ) from None
        except anthropic.APIConnectionError as exc:
            raise ModelUnavailable(f"cannot connect: {redact(str(exc), self._secrets)}") from None
        except anthropic.AnthropicError as exc:
            raise ModelUnavailable(redact(str(exc), self._secrets)) from None
        text = "".join(block.text for block in response.content if block.type == "text")
        return Completion(text, response.usage.input_tokens, response.usage.output_tokens)


def _retryable(error: BaseException) -> bool:
    if isinstance(error, anthropic.APIStatusError):
        return is_retryable_status(error.status_code)
    return isinstance(error, anthropic.APIConnectionError)  # APITimeoutError is one


def _asked_wait(error: BaseException) -> float | None:
    if isinstance(error, anthropic.APIStatusError):
        return retry_after_seconds(error.response.headers)
    return None
