"""The one narrow client for IPFS endpoints: its HTTP plumbing and the record of a pin.

A patch is on disk, with its CID computed locally (``bot.ipfs.cid``), before any remote step,
so a remote step can only add a pin, never lose work. Every network outcome becomes a
:class:`PinRecord` (``pending`` when the endpoint cannot be reached), so pinning never
ends a run with a traceback. One ``httpx.Client`` per call, explicit timeouts, bounded
retries with backoff on connection errors, 5xx and 429, and a cap on every answer read.

The endpoints: Kubo's RPC API in ``bot.ipfs.kubo``, the IPFS Pinning Service API in
``bot.ipfs.pinning``, fetching by CID (gateway or Kubo) in ``bot.ipfs.fetch``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast, get_args
from urllib.parse import urlsplit, urlunsplit

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from bot.core.errors import UserError

Service = Literal["kubo", "pinning-service"]
Status = Literal["pinned", "pinning", "queued", "pending", "failed"]


@dataclass(frozen=True)
class IpfsSettings:
    """Timeouts, retries, polling and size caps; tests shrink the waits to milliseconds."""

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    attempts: int = 4  # tries of one request on connection errors, 5xx and 429
    retry_wait: float = 0.5  # first wait between tries; doubles each time
    retry_wait_max: float = 8.0
    poll_interval: float = 2.0  # between status checks of a pinning-service request
    max_wait: float = 120.0  # total time to wait for a pinning service to finish
    max_bytes: int = 10 * 1024 * 1024  # most bytes read of any answer, a fetched file included


DEFAULT_SETTINGS = IpfsSettings()


@dataclass(frozen=True)
class PinRecord:
    """What one pin attempt came to, in a form the bundle metadata can hold."""

    service: Service
    endpoint: str  # without credentials
    cid: str  # our locally computed CID, never one a remote answered
    status: Status
    detail: str  # one sentence for the user
    requestid: str | None = None  # the pinning service's handle for a later status check
    time: str = ""  # ISO 8601, UTC, seconds

    @property
    def pinned(self) -> bool:
        return self.status == "pinned"

    def to_json(self) -> dict[str, str | None]:
        return {
            "service": self.service,
            "endpoint": self.endpoint,
            "cid": self.cid,
            "status": self.status,
            "detail": self.detail,
            "requestid": self.requestid,
            "time": self.time,
        }

    @classmethod
    def from_json(cls, data: object) -> PinRecord:
        """A record read back from bundle metadata; a malformed one is refused in one sentence."""
        if not isinstance(data, Mapping):
            raise UserError(f"not a pin record: {json.dumps(data, default=str)[:200]}")
        fields = ("service", "endpoint", "cid", "status", "detail", "time")
        texts = {name: data.get(name) for name in fields}
        requestid = data.get("requestid")
        if (
            not all(isinstance(value, str) for value in texts.values())
            or texts["service"] not in get_args(Service)
            or texts["status"] not in get_args(Status)
            or not (requestid is None or isinstance(requestid, str))
        ):
            raise UserError(f"not a pin record: {json.dumps(dict(data), default=str)[:200]}")
        text = cast(dict[str, str], texts)
        return cls(
            service=cast(Service, text["service"]),
            endpoint=text["endpoint"],
            cid=text["cid"],
            status=cast(Status, text["status"]),
            detail=text["detail"],
            requestid=requestid,
            time=text["time"],
        )


def record(
    service: Service,
    endpoint: str,
    cid: str,
    status: Status,
    detail: str,
    requestid: str | None = None,
) -> PinRecord:
    """A record stamped now, naming the endpoint without credentials."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    return PinRecord(service, public_url(endpoint), cid, status, detail, requestid, now)


class Unreachable(Exception):
    """The endpoint could not be reached, or kept failing, through every retry."""


@dataclass(frozen=True)
class Answer:
    """A response read whole, but never more than the configured cap."""

    status: int
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)  # ValueError when it is not JSON


class _Transient(Exception):
    """An answer worth retrying: a 5xx or 429."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def public_url(url: str) -> str:
    """``url`` without user, password, query or fragment, fit to print and store."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal
        return "(an unreadable URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def base_url(url: str, what: str) -> str:
    """An http(s) endpoint without its trailing slash; anything else is refused."""
    try:
        parts = urlsplit(url.strip())
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        usable = False
    if not usable:
        raise UserError(f"{what} must be an http:// or https:// URL, not {public_url(url)!r}")
    return url.strip().rstrip("/")


def new_client(settings: IpfsSettings, *, follow_redirects: bool = False) -> httpx.Client:
    """A client for one call site, with explicit timeouts; the caller closes it.

    Compression is declined, so the size cap counts the bytes that arrive.
    """
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    return httpx.Client(
        timeout=timeout,
        follow_redirects=follow_redirects,
        headers={"Accept-Encoding": "identity"},
    )


def send(
    client: httpx.Client,
    build: Callable[[], httpx.Request],
    where: str,
    settings: IpfsSettings,
) -> Answer:
    """Send ``build()`` with retries on connection errors, 5xx and 429; return any other answer.

    After the last try, raises :class:`Unreachable` with the reason in one clause. An
    answer larger than ``settings.max_bytes`` is refused (UserError), never retried.
    """

    def once() -> Answer:
        response = client.send(build(), stream=True)
        try:
            answer = Answer(response.status_code, read_capped(response, where, settings.max_bytes))
        finally:
            response.close()
        if answer.status >= 500 or answer.status == 429:
            raise _Transient(answer)
        return answer

    retrying = Retrying(
        stop=stop_after_attempt(settings.attempts),
        wait=wait_exponential(
            multiplier=settings.retry_wait, min=settings.retry_wait, max=settings.retry_wait_max
        ),
        retry=retry_if_exception(_worth_retrying),
        reraise=True,
    )
    tries = f"{settings.attempts} attempt{'s' if settings.attempts != 1 else ''}"
    try:
        return retrying(once)
    except _Transient as exc:
        message = error_message(exc.answer.body)
        said = f" ({message})" if message else ""
        code = exc.answer.status
        raise Unreachable(f"{where} answered HTTP {code}{said} on each of {tries}") from None
    except httpx.TimeoutException:
        raise Unreachable(f"{where} did not answer in time on any of {tries}") from None
    except httpx.UnsupportedProtocol as exc:  # e.g. a redirect to another scheme
        raise UserError(f"cannot use {where}: {exc}") from None
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        raise Unreachable(f"cannot reach {where} ({reason}) after {tries}") from None


def _worth_retrying(exc: BaseException) -> bool:
    """A connection or protocol hiccup, a 5xx or a 429; never a URL httpx cannot use."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return False
    return isinstance(exc, httpx.TransportError | _Transient)


def read_capped(response: httpx.Response, where: str, limit: int) -> bytes:
    """The body as it arrived, refused once it passes ``limit`` bytes (or says it will)."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UserError(f"{where} sent {encoding}-encoded bytes although none were asked for")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UserError(f"{where} offered {declared} bytes, more than the {limit}-byte limit")
    body = bytearray()
    for piece in response.iter_raw():
        body += piece
        if len(body) > limit:
            raise UserError(f"{where} sent more than the {limit}-byte limit")
    return bytes(body)


def error_message(body: bytes) -> str:
    """The endpoint's own error message when it sent one as JSON, on one short line."""
    try:
        data = json.loads(body)
    except ValueError:  # UnicodeDecodeError is a ValueError
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):  # the Pinning Service API's Failure
        parts = [error.get("reason"), error.get("details")]
        text = ": ".join(str(p) for p in parts if p)
    else:  # Kubo's {"Message": ..., "Type": "error"} and other common shapes
        text = str(data.get("Message") or data.get("message") or error or "")
    return " ".join(text.split())[:300]


def refusal(answer: Answer, who: str, token: str | None) -> str:
    """One sentence for a 4xx answer: a rejected token, or the status and the message."""
    code = answer.status
    if code in (401, 403):
        if token:
            return f"{who} rejected the token (HTTP {code})"
        return f"{who} refused the request without a token (HTTP {code})"
    message = error_message(answer.body)
    return f"{who} answered HTTP {code}" + (f": {message}" if message else "")


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}
