"""Webhook deliveries: prove a body came from GitHub, then read it as an event.

Pure over bytes and headers, like gidgethub's ``sansio``: the HTTP server is somebody
else's. The order is the point: ``verify_signature`` on the raw body first, and only a
verified body reaches ``parse_event`` (``read_delivery`` does both, in that order). The
signature covers the exact bytes received, so the body must not be re-encoded in between.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.errors import UserError

SIGNATURE_HEADER = "x-hub-signature-256"
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"

_SIGNATURE = re.compile(r"sha256=(?P<hex>[0-9a-fA-F]{64})")


class SignatureRejected(Exception):
    """The delivery is not provably from GitHub: answer 401 and do nothing else."""

    status = 401


class EventRejected(Exception):
    """An authentic delivery we cannot read (not JSON, no event name): answer 400."""

    status = 400


@dataclass(frozen=True)
class Event:
    """One webhook delivery. ``action`` is ``None`` for events without one (``push``)."""

    name: str
    delivery_id: str
    action: str | None
    payload: dict[str, Any]


def require_secret(value: str | None) -> bytes:
    """The webhook secret as bytes; without one every forged delivery would pass."""
    if value is None or not value.strip():
        raise UserError("refusing to start without a webhook secret")
    return value.encode("utf-8")


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> None:
    """Raise ``SignatureRejected`` unless ``header`` is the HMAC-SHA256 of ``body``.

    The digests are compared in constant time (``hmac.compare_digest``), so the time a
    rejection takes says nothing about how much of a forged signature was right.
    """
    if not secret:
        raise ValueError("an empty webhook secret verifies nothing")
    if header is None or not header.strip():
        raise SignatureRejected(f"the {SIGNATURE_HEADER} header is missing")
    found = _SIGNATURE.fullmatch(header.strip())
    if found is None:
        raise SignatureRejected(f"the {SIGNATURE_HEADER} header is not sha256=<64 hex digits>")
    expected = hmac.new(secret, body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, bytes.fromhex(found["hex"])):
        raise SignatureRejected("the signature does not match the body")


def parse_event(headers: Mapping[str, str], body: bytes) -> Event:
    """Read a delivery whose body ``verify_signature`` has already accepted.

    Never call this on an unverified body: it trusts the payload's content. Header names
    are matched case-insensitively. Only JSON deliveries are read (a webhook configured
    for ``application/x-www-form-urlencoded`` is refused, not guessed at).
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    name = lowered.get(EVENT_HEADER, "").strip()
    delivery_id = lowered.get(DELIVERY_HEADER, "").strip()
    if not name:
        raise EventRejected(f"the {EVENT_HEADER} header is missing")
    if not delivery_id:
        raise EventRejected(f"the {DELIVERY_HEADER} header is missing")
    media_type = lowered.get("content-type", "application/json").split(";")[0].strip()
    if media_type.lower() != "application/json":
        raise EventRejected(f"the body is {media_type}, not application/json")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise EventRejected("the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise EventRejected("the body is JSON but not an object")
    action = payload.get("action")
    return Event(
        name=name,
        delivery_id=delivery_id,
        action=action if isinstance(action, str) else None,
        payload=payload,
    )


def read_delivery(secret: bytes, headers: Mapping[str, str], body: bytes) -> Event:
    """Verify, then parse: the one call a server needs for each delivery."""
    lowered = {key.lower(): value for key, value in headers.items()}
    verify_signature(secret, body, lowered.get(SIGNATURE_HEADER))
    return parse_event(lowered, body)
