"""One way to call either SDK: retries where they help, one sentence where they do not.

The ``openai`` and ``anthropic`` SDKs are made by the same generator, so their errors have
the same shape (a status error with ``status_code``, ``message`` and ``response``, a
connection error, a timeout that is a connection error, a base class); only the classes
differ. :class:`SdkErrors` names them, and :meth:`SdkErrors.call` does the rest for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.core.llm.completion import ModelUnavailable, redact
from bot.core.llm.retry import (
    RetryPolicy,
    call_with_retries,
    is_retryable_status,
    retry_after_seconds,
)

T = TypeVar("T")


@dataclass(frozen=True)
class SdkErrors:
    """One SDK's exception classes."""

    base: type[Exception]
    status: type[Exception]
    connection: type[Exception]
    timeout: type[Exception]

    def call(self, ask: Callable[[], T], policy: RetryPolicy, secrets: tuple[str, ...]) -> T:
        """``ask()``, retried on 429/5xx/connection errors/timeouts as ``policy`` says
        (honouring ``retry-after``); any failure left is :class:`ModelUnavailable`, its
        text free of ``secrets``."""
        try:
            return call_with_retries(
                ask, policy, retryable=self._retryable, asked_wait=self._asked_wait
            )
        except self.timeout:
            raise ModelUnavailable("no answer before the timeout") from None
        except self.status as exc:
            code, message = getattr(exc, "status_code", "?"), str(getattr(exc, "message", exc))
            raise ModelUnavailable(f"HTTP {code}: {redact(message, secrets)}") from None
        except self.connection as exc:
            raise ModelUnavailable(f"cannot connect: {redact(str(exc), secrets)}") from None
        except self.base as exc:
            raise ModelUnavailable(redact(str(exc), secrets)) from None

    def _retryable(self, error: BaseException) -> bool:
        if isinstance(error, self.status):
            return is_retryable_status(int(getattr(error, "status_code", 0)))
        return isinstance(error, self.connection)  # the timeout is one

    def _asked_wait(self, error: BaseException) -> float | None:
        if isinstance(error, self.status):
            response = getattr(error, "response", None)
            return retry_after_seconds(response.headers) if response is not None else None
        return None
