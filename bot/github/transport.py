"""The httpx transport under githubkit: conditional GETs, quota bookkeeping, patient retries.

githubkit's own HTTP cache and auto-retry are switched off (its retry may sleep most of
an hour on a primary limit); this one transport does both jobs, so every request the
bot makes, App token exchange included, is seen by the one :class:`Governor`:

- a GET carries ``If-None-Match`` when an earlier answer had an ``ETag``; a ``304`` (which
  costs no primary quota) is turned back into the cached answer. The cache key holds the
  token's digest and the ``Accept`` header, so one token never reads another's answers;
- every response's headers reach the governor;
- a rate-limit answer is waited out when the governor says the wait is short (tenacity,
  ``max_retries`` times), else the run gives up on GitHub: :class:`GitHubUnavailable`;
- connection failures and ``5xx`` are retried with backoff, then also give up;
- writes are spaced by the governor's ``write_delay`` (1 s apart, 80/min, 500/h).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass

import cachetools
import httpx
import tenacity

from bot.github.governor import FallBack, Governor, is_write

CACHE_SIZE = 512
CACHE_SECONDS = 3600.0
MAX_RATE_RETRIES = 1  # a secondary-limit answer is waited out and retried once
MAX_NETWORK_RETRIES = 2
NETWORK_BACKOFF = 1.0  # seconds, doubled per retry


class GitHubUnavailable(Exception):
    """GitHub cannot be used for this run (quota, a wait too long, API down): ship the bundle."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CachedAnswer:
    """A GET answer kept for revalidation: its ETag, headers and undecoded body."""

    etag: str
    status: int
    headers: tuple[tuple[str, str], ...]
    raw: bytes


class _RateLimited(Exception):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class _ServerTrouble(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


AnswerCache = MutableMapping[tuple[str, str, str, str], CachedAnswer]


def new_cache() -> AnswerCache:
    """A fresh ETag cache (one per client unless a caller shares one on purpose)."""
    return cachetools.TTLCache(maxsize=CACHE_SIZE, ttl=CACHE_SECONDS)


def cache_key(request: httpx.Request) -> tuple[str, str, str, str]:
    """(method, URL, token identity, Accept): GitHub varies answers by token and Accept."""
    token = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()[:16]
    return (request.method, str(request.url), token, request.headers.get("accept", ""))


class GovernedTransport(httpx.BaseTransport):
    """Wraps a real transport; state: the ETag cache and the governor it reports to."""

    def __init__(
        self,
        governor: Governor,
        *,
        inner: httpx.BaseTransport | None = None,
        cache: AnswerCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_rate_retries: int = MAX_RATE_RETRIES,
    ) -> None:
        self.governor = governor
        self._inner = inner or httpx.HTTPTransport()
        self._cache = cache if cache is not None else new_cache()
        self._sleep = sleep
        self._max_rate_retries = max_rate_retries
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a body we may have to send again
        key = cache_key(request) if request.method == "GET" else None
        with self._lock:
            cached = self._cache.get(key) if key else None
        if cached is not None:
            request.headers["If-None-Match"] = cached.etag
        status, headers, raw = self._send_patiently(request)
        if status == 304 and cached is not None:
            fresh = httpx.Headers(list(cached.headers))
            for name, value in headers.multi_items():
                if name.lower().startswith("x-ratelimit") or name.lower() == "etag":
                    fresh[name] = value
            return httpx.Response(cached.status, headers=fresh, content=cached.raw, request=request)
        etag = headers.get("etag")
        if key is not None and status == 200 and etag:
            with self._lock:
                self._cache[key] = CachedAnswer(etag, status, tuple(headers.multi_items()), raw)
        return httpx.Response(status, headers=headers, content=raw, request=request)

    def close(self) -> None:
        """Keep the pool: githubkit closes an httpx client after each call (see ``shutdown``)."""

    def shutdown(self) -> None:
        """Close the real transport and its connection pool."""
        self._inner.close()

    def _send_patiently(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        """Send with retries: rate limits per the governor, network and 5xx with backoff."""
        rate_attempts = 0

        def wait(state: tenacity.RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            if isinstance(failure, _RateLimited):
                return failure.seconds
            return float(NETWORK_BACKOFF * 2 ** (state.attempt_number - 1))

        def stop(state: tenacity.RetryCallState) -> bool:
            failure = state.outcome.exception() if state.outcome else None
            if isinstance(failure, _RateLimited):
                return rate_attempts > self._max_rate_retries
            return state.attempt_number > MAX_NETWORK_RETRIES

        def attempt() -> tuple[int, httpx.Headers, bytes]:
            nonlocal rate_attempts
            status, headers, raw = self._send_once(request)
            decision = self.governor.wait_seconds(
                status, headers, _message(status, headers, raw), rate_attempts
            )
            if isinstance(decision, FallBack):
                raise GitHubUnavailable(decision.reason)
            if decision is not None:
                rate_attempts += 1
                raise _RateLimited(decision.seconds)
            if status >= 500:
                raise _ServerTrouble(
                    f"GitHub answered {status} to {request.method} {request.url.path}"
                )
            return status, headers, raw

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(
                (_RateLimited, _ServerTrouble, httpx.TransportError)
            ),
            wait=wait,
            stop=stop,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _RateLimited:
            raise GitHubUnavailable(
                f"still rate limited after {self._max_rate_retries} wait(s) on "
                f"{request.method} {request.url.path}"
            ) from None
        except _ServerTrouble as trouble:
            raise GitHubUnavailable(trouble.reason) from None
        except httpx.TransportError as exc:
            raise GitHubUnavailable(
                f"the GitHub API at {request.url.host} is unreachable: {exc}"
            ) from None

    def _send_once(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        if is_write(request.method):
            delay = self.governor.write_delay()
            if delay > 0:
                self._sleep(delay)
            self.governor.record_write()
        response = self._inner.handle_request(request)
        try:
            raw = b"".join(response.iter_raw())
        finally:
            response.close()
        self.governor.record(response.status_code, response.headers)
        return response.status_code, response.headers, raw


def _message(status: int, headers: httpx.Headers, raw: bytes) -> str:
    """The ``message`` of a GitHub error body, or "" (only 403/429 are read)."""
    if status not in (403, 429):
        return ""
    try:
        data = httpx.Response(status, headers=headers, content=raw).json()
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) else ""
