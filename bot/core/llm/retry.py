"""Re-send a request after a 429, a 5xx or a timeout, waiting as long as the server asks.

Both SDKs raise ``APIStatusError`` (with the HTTP response) and ``APIConnectionError``
(``APITimeoutError`` is one); the callers say which of their classes mean what. The SDKs'
own retries are off, so this is the only retry loop and its waits are the ones we chose.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import tenacity

T = TypeVar("T")
RETRY_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: the server's ``retry-after`` wins, capped.

    ``timeouts``: whether a timed-out request is re-sent at all (not to a local server that
    serves one request at a time: the retry would wait behind the abandoned request).
    """

    retries: int = 3
    initial_wait: float = 1.0
    max_wait: float = 60.0
    timeouts: bool = True


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, or ``retry-after`` in seconds or as
    an HTTP date; ``None`` when absent or unreadable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    retryable: Callable[[BaseException], bool],
    asked_wait: Callable[[BaseException], float | None],
    sleep: Callable[[float], None] = time.sleep,
    before_wait: Callable[[BaseException, int, float], None] | None = None,
) -> T:
    """``call()``, re-sent up to ``policy.retries`` times while ``retryable(error)`` holds.

    The last error is re-raised as it was. Without a ``retry-after`` the wait doubles from
    ``initial_wait`` with jitter; every wait is capped at ``max_wait``. ``before_wait`` is
    told the error, the number of the retry to come and the wait, so a user can see it.
    """

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = asked_wait(error) if error is not None else None
        if asked is None:
            backoff = policy.initial_wait * 2 ** (state.attempt_number - 1)
            asked = backoff * (0.5 + random.random() / 2)  # jitter, not a secret
        return min(asked, policy.max_wait)

    def announce(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        seconds = state.next_action.sleep if state.next_action else 0.0
        if before_wait is not None and error is not None:
            before_wait(error, state.attempt_number, seconds)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.retries + 1),
        wait=wait,
        retry=tenacity.retry_if_exception(retryable),
        sleep=sleep,
        before_sleep=announce,
        reraise=True,
    )
    return retrying(call)
