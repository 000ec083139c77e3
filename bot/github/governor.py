"""Rate-limit bookkeeping: how much GitHub quota is left, and how long to wait or whether to stop.

Pure over response headers and a clock passed in (``time.time``: GitHub's reset times are
UTC epoch seconds), like gidgethub's ``RateLimit``; the client feeds it every response.
The rules follow GitHub's REST documentation ("Rate limits for the REST API", "Best
practices"): honour ``retry-after``; with no quota left wait for ``x-ratelimit-reset``;
after any other secondary-limit answer wait at least a minute, doubling on each repeat.
A wait longer than ``wait_cap`` is not worth a job's time: the run delivers a patch
bundle instead, which is the point of keeping a ``reserve``.
"""

from __future__ import annotations

import email.utils
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.report.results import Usage

# Primary limits per hour, as documented by GitHub (the headers are the truth at run time).
GITHUB_TOKEN_LIMIT = 1_000  # Actions' GITHUB_TOKEN, per repository (15,000 on Enterprise Cloud)
TOKEN_LIMIT = 5_000  # personal access tokens and App installation tokens (installations scale up)

# Secondary limits on content-creating requests (POST, PATCH, PUT, DELETE).
WRITES_PER_MINUTE = 80
WRITES_PER_HOUR = 500
WRITE_INTERVAL = 1.0  # seconds between writes, GitHub's best-practice advice

DEFAULT_RESERVE = 100  # requests kept back for reporting the result, however the run goes
DEFAULT_WAIT_CAP = 60.0  # seconds; a longer wait means falling back to the patch bundle
SECONDARY_WAIT = 60.0  # "wait for at least one minute before retrying"

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class Quota:
    """One resource's primary limit as the last response described it."""

    resource: str
    limit: int
    remaining: int
    reset: float  # UTC epoch seconds


@dataclass(frozen=True)
class Wait:
    """Retry the request after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class FallBack:
    """Stop using GitHub for this run; ``reason`` is one sentence for the report."""

    reason: str


def read_quota(headers: Mapping[str, str]) -> Quota | None:
    """The primary-limit headers of one response, or ``None`` when absent or garbled."""
    lowered = _lowered(headers)
    try:
        limit = int(lowered["x-ratelimit-limit"])
        remaining = int(lowered["x-ratelimit-remaining"])
        reset = float(int(lowered["x-ratelimit-reset"]))
    except (KeyError, ValueError):
        return None
    resource = lowered.get("x-ratelimit-resource", "core").strip() or "core"
    return Quota(resource=resource, limit=limit, remaining=max(remaining, 0), reset=reset)


def is_write(method: str) -> bool:
    """Whether a request creates content, and so counts against the secondary limits."""
    return method.upper() in WRITE_METHODS


class Governor:
    """The quota per resource, the times of recent writes, and the counters for the report."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        reserve: int = DEFAULT_RESERVE,
        wait_cap: float = DEFAULT_WAIT_CAP,
    ) -> None:
        self._clock = clock
        self.reserve = reserve
        self.wait_cap = wait_cap
        self._quotas: dict[str, Quota] = {}
        self._writes: deque[float] = deque()
        self._requests = 0
        self._not_modified = 0

    def record(self, status: int, headers: Mapping[str, str]) -> None:
        """Count one response and keep its quota unless a newer one is already known."""
        self._requests += 1
        if status == 304:
            self._not_modified += 1
        quota = read_quota(headers)
        if quota is None:
            return
        known = self._quotas.get(quota.resource)
        if known is None or quota.reset > known.reset:
            self._quotas[quota.resource] = quota
        elif quota.reset == known.reset and quota.remaining < known.remaining:
            self._quotas[quota.resource] = quota  # responses can arrive out of order

    def remaining(self, resource: str = "core") -> int | None:
        """Requests left for ``resource`` now (a full window once its reset has passed)."""
        quota = self._quotas.get(resource)
        if quota is None:
            return None
        return quota.limit if self._clock() >= quota.reset else quota.remaining

    def should_fall_back(self, planned_requests: int, resource: str = "core") -> bool:
        """True when the planned requests would eat into the reserve; unknown quota is fine."""
        left = self.remaining(resource)
        return left is not None and left - planned_requests < self.reserve

    def wait_seconds(
        self, status: int, headers: Mapping[str, str], message: str = "", attempt: int = 0
    ) -> Wait | FallBack | None:
        """What to do after a response: ``None`` when it is not a rate-limit answer.

        ``message`` is the error body's ``message``: a 403 is a rate limit only with a
        ``retry-after``, an empty quota, or a message saying so (otherwise it is a
        permission problem, and waiting would not help). ``attempt`` counts earlier
        secondary-limit answers to the same request, for the doubling wait.
        """
        if status not in (403, 429):
            return None
        lowered = _lowered(headers)
        retry_after = _retry_after(lowered.get("retry-after"), self._clock())
        quota = read_quota(lowered)
        if retry_after is not None:
            return self._bounded(retry_after, "GitHub asked to retry after")
        if quota is not None and quota.remaining == 0:
            until_reset = max(quota.reset - self._clock(), 0.0)
            return self._bounded(until_reset, f"the {quota.resource} quota resets in")
        if status == 429 or "rate limit" in message.lower():
            return self._bounded(SECONDARY_WAIT * 2 ** max(attempt, 0), "a secondary limit asks")
        return None

    def record_write(self) -> None:
        """Note that a content-creating request was sent now."""
        now = self._clock()
        self._writes.append(now)
        while self._writes and self._writes[0] <= now - 3600.0:
            self._writes.popleft()

    def write_delay(self) -> float:
        """Seconds until the next write keeps within 1/s, 80/minute and 500/hour."""
        now = self._clock()
        writes = [t for t in self._writes if t > now - 3600.0]
        if not writes:
            return 0.0
        delays = [writes[-1] + WRITE_INTERVAL - now]
        last_minute = [t for t in writes if t > now - 60.0]
        if len(last_minute) >= WRITES_PER_MINUTE:
            delays.append(last_minute[-WRITES_PER_MINUTE] + 60.0 - now)
        if len(writes) >= WRITES_PER_HOUR:
            delays.append(writes[-WRITES_PER_HOUR] + 3600.0 - now)
        return max(0.0, *delays)

    def usage(self) -> Usage:
        """The counters for the run's report."""
        left = {name: self.remaining(name) for name in sorted(self._quotas)}
        return Usage(
            requests=self._requests,
            not_modified=self._not_modified,
            remaining={name: value for name, value in left.items() if value is not None},
        )

    def _bounded(self, seconds: float, why: str) -> Wait | FallBack:
        if seconds <= self.wait_cap:
            return Wait(seconds)
        return FallBack(f"{why} {seconds:.0f} s, longer than the {self.wait_cap:.0f} s cap")


def _retry_after(value: str | None, now: float) -> float | None:
    """``retry-after`` in seconds: GitHub sends a number; RFC 9110 also allows a date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - now, 0.0)


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}
