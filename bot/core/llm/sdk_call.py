"""One way to call either SDK: retries where they help, one sentence where they do not.

The ``openai`` and ``anthropic`` SDKs are made by the same generator, so their errors have
the same shape (a status error with ``status_code``, ``message`` and ``response``, a
connection error, a timeout that is a connection error, a base class); only the classes
differ. :class:`SdkErrors` names them, and :meth:`SdkErrors.call` does the rest for both.

Replies are streamed and read against a deadline (:func:`until`): when it passes, the
stream is closed, and a server that streams notices the disconnect and stops generating
instead of finishing a reply nobody will read while the next request waits behind it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from bot.core.llm.completion import (
    Completion,
    ModelUnavailable,
    ReplyTooSlow,
    Requests,
    Retrying,
    redact,
)
from bot.core.llm.retry import (
    RetryPolicy,
    call_with_retries,
    is_retryable_status,
    retry_after_seconds,
)

T = TypeVar("T")
E = TypeVar("E", covariant=True)
TIMEOUT = "no answer before the timeout"


class Closable(Iterable[E], Protocol[E]):
    """An SDK's stream: events to iterate, and a way to drop the connection."""

    def close(self) -> None: ...


def until(stream: Closable[E], deadline: float) -> Iterator[E]:
    """The stream's events while ``time.monotonic()`` is before ``deadline``; past it the
    stream is closed (the server sees the disconnect) and :class:`ReplyTooSlow` raised."""
    try:
        for event in stream:
            yield event
            if time.monotonic() > deadline:
                raise ReplyTooSlow
    finally:
        stream.close()


@dataclass(frozen=True)
class SdkErrors:
    """One SDK's exception classes."""

    base: type[Exception]
    status: type[Exception]
    connection: type[Exception]
    timeout: type[Exception]

    def call(
        self,
        ask: Callable[[], T],
        policy: RetryPolicy,
        secrets: tuple[str, ...],
        on_retry: Retrying | None = None,
    ) -> tuple[T, Requests]:
        """``ask()``, retried on 429/5xx/connection errors (and timeouts, if ``policy`` says)
        honouring ``retry-after``, with the requests it took. Any failure left is
        :class:`ModelUnavailable` (its text free of ``secrets``) carrying those requests."""
        began = time.monotonic()
        sent = timed_out = 0

        def counted() -> T:
            nonlocal sent, timed_out
            sent += 1
            try:
                return ask()
            except (self.timeout, ReplyTooSlow):
                timed_out += 1
                raise

        def told(error: BaseException, number: int, wait: float) -> None:
            if on_retry is not None:
                why = self.describe(error, secrets)
                on_retry(f"{why}; retry {number} of {policy.retries} in {wait:.1f} s")

        def tally() -> Requests:
            return Requests(sent, timed_out, time.monotonic() - began)

        try:
            answer = call_with_retries(
                counted,
                policy,
                retryable=lambda error: self._retryable(error, policy),
                asked_wait=self._asked_wait,
                before_wait=told,
            )
        except (self.base, ReplyTooSlow) as exc:
            raise ModelUnavailable(self.describe(exc, secrets), tally()) from None
        return answer, tally()

    def complete(
        self,
        ask: Callable[[], Completion],
        policy: RetryPolicy,
        secrets: tuple[str, ...],
        on_retry: Retrying | None = None,
    ) -> Completion:
        """:meth:`call` for a client's ``complete``: the reply with the requests it took."""
        completion, requests = self.call(ask, policy, secrets, on_retry)
        return replace(completion, requests=requests)

    def describe(self, error: BaseException, secrets: tuple[str, ...]) -> str:
        """One sentence for ``error``, free of ``secrets``."""
        if isinstance(error, self.timeout | ReplyTooSlow):
            return TIMEOUT
        if isinstance(error, self.status):
            code, message = (
                getattr(error, "status_code", "?"),
                str(getattr(error, "message", error)),
            )
            return f"HTTP {code}: {redact(message, secrets)}"
        if isinstance(error, self.connection):
            return f"cannot connect: {redact(str(error), secrets)}"
        return redact(str(error), secrets)

    def _retryable(self, error: BaseException, policy: RetryPolicy) -> bool:
        if isinstance(error, self.timeout | ReplyTooSlow):
            return policy.timeouts
        if isinstance(error, self.status):
            return is_retryable_status(int(getattr(error, "status_code", 0)))
        return isinstance(error, self.connection)

    def _asked_wait(self, error: BaseException) -> float | None:
        if isinstance(error, self.status):
            response = getattr(error, "response", None)
            return retry_after_seconds(response.headers) if response is not None else None
        return None
