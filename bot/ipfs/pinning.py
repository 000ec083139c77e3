"""The IPFS Pinning Service API: ask a service to pin a CID, then watch the request settle.

The API pins by CID only: the service fetches the bytes from the network, so ``origins``
should name a node that has them (``bot.ipfs.kubo.node_addresses``). An accepted request
is polled until ``pinned`` or ``failed`` or the deadline; a service still at ``queued``
is reported as ``queued``, never as success. The token travels only in the Authorization
header and is struck from anything an endpoint echoes back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote

from bot.core.errors import UserError
from bot.ipfs.cid import is_cid
from bot.ipfs.http import (
    DEFAULT_SETTINGS,
    Answer,
    IpfsSettings,
    PinRecord,
    Status,
    Unreachable,
    base_url,
    bearer,
    new_client,
    public_url,
    record,
    refusal,
    send,
)

SERVICE_STATES = ("queued", "pinning", "pinned", "failed")
UNSETTLED = ("queued", "pinning")
NAME_LIMIT = 255  # the spec's maximum length of a pin name


@dataclass(frozen=True)
class PinStatus:
    """The parts of the API's PinStatus object we act on."""

    requestid: str
    status: Status
    info: str  # the service's ``info`` map on one line, for the user


def pin_with_service(
    endpoint: str,
    token: str,
    cid: str,
    name: str,
    *,
    origins: Sequence[str] = (),
    meta: Mapping[str, str] | None = None,
    settings: IpfsSettings = DEFAULT_SETTINGS,
) -> PinRecord:
    """Ask the pinning service at ``endpoint`` to pin ``cid`` and wait for it to settle.

    ``pending`` when the service cannot be reached; ``failed`` when it refuses (a rejected
    token, a bad request) or fails; ``queued``/``pinning`` when the deadline came first.
    """
    if not is_cid(cid):
        raise UserError(f"not a CID: {cid!r} (expected a base32 CIDv1 such as bafkrei...)")
    url = base_url(endpoint, "the pinning endpoint")
    where = f"the pinning endpoint at {public_url(url)}"
    body = {
        "cid": cid,
        "name": name[:NAME_LIMIT],
        "origins": list(origins),
        "meta": dict(meta or {}),
    }
    try:
        with new_client(settings) as client:
            answer = send(
                client,
                lambda: client.build_request(
                    "POST", f"{url}/pins", json=body, headers=bearer(token)
                ),
                where,
                settings,
            )
    except Unreachable as exc:
        return _record(url, cid, "pending", f"not pinned yet: {exc}", None, token)
    except UserError as exc:
        return _record(url, cid, "failed", str(exc), None, token)
    if answer.status >= 400:
        return _record(url, cid, "failed", _refused(answer, token), None, token)
    try:
        state = pin_status(answer, cid, where)
    except UserError as exc:
        return _record(url, cid, "failed", str(exc), None, token)
    first = _record(
        url, cid, state.status, _describe(state, cid, where, 0.0), state.requestid, token
    )
    return wait_for_pin(first, token, settings=settings)


def wait_for_pin(
    pin: PinRecord, token: str, *, settings: IpfsSettings = DEFAULT_SETTINGS
) -> PinRecord:
    """Poll a request left ``queued`` or ``pinning`` until it settles or the deadline passes.

    Also resumes a record read back from a bundle; any other record is returned as it is.
    A poll that cannot get through keeps the last known status and says why.
    """
    if pin.service != "pinning-service" or pin.requestid is None or pin.status not in UNSETTLED:
        return pin
    url, requestid = base_url(pin.endpoint, "the pinning endpoint"), pin.requestid
    where = f"the pinning endpoint at {public_url(url)}"
    state = PinStatus(requestid, pin.status, "")
    started = time.monotonic()
    with new_client(settings) as client:
        while state.status in UNSETTLED:
            remaining = settings.max_wait - (time.monotonic() - started)
            if remaining <= 0:
                break
            time.sleep(min(settings.poll_interval, remaining))
            try:
                answer = send(
                    client,
                    lambda: client.build_request(
                        "GET", f"{url}/pins/{quote(requestid, safe='')}", headers=bearer(token)
                    ),
                    where,
                    settings,
                )
                if answer.status >= 400:
                    raise UserError(_refused(answer, token))
                state = pin_status(answer, pin.cid, where)
            except (Unreachable, UserError) as exc:
                detail = f"{state.status} at {where} (request {requestid}), then: {exc}"
                return _record(url, pin.cid, state.status, detail, requestid, token)
    waited = time.monotonic() - started
    detail = _describe(state, pin.cid, where, waited)
    return _record(url, pin.cid, state.status, detail, requestid, token)


def pin_status(answer: Answer, cid: str, where: str) -> PinStatus:
    """Read a PinStatus; refuse one that is malformed or names a CID other than ours."""
    try:
        data = answer.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UserError(f"{where} did not answer with a pin status (HTTP {answer.status})")
    requestid, status = data.get("requestid"), data.get("status")
    if not isinstance(requestid, str) or not requestid or status not in SERVICE_STATES:
        raise UserError(f"{where} answered a pin status without a requestid or a known status")
    pin = data.get("pin")
    theirs = pin.get("cid") if isinstance(pin, dict) else None
    if isinstance(theirs, str) and theirs != cid:
        raise UserError(f"{where} answered for CID {theirs}, but the request was for {cid}")
    info = data.get("info")
    said = ""
    if isinstance(info, dict):
        said = "; ".join(f"{k}: {v}" for k, v in info.items() if isinstance(v, str))
    return PinStatus(requestid, cast(Status, status), " ".join(said.split())[:300])


def _describe(state: PinStatus, cid: str, where: str, waited: float) -> str:
    request = f"(request {state.requestid})"
    said = f"; it says: {state.info}" if state.info else ""
    if state.status == "pinned":
        return f"pinned by {where} as {cid} {request}"
    if state.status == "failed":
        return f"{where} failed to pin {cid} {request}{said}"
    if waited <= 0:
        return f"{state.status} at {where} {request}"
    return (
        f"still {state.status} at {where} after {waited:.1f}s {request}: "
        f"not pinned yet, the service may finish later{said}"
    )


def _refused(answer: Answer, token: str) -> str:
    """A 401/403 reads "the pinning endpoint rejected the token"; others give status and reason."""
    return refusal(answer, "the pinning endpoint", token)


def _record(
    url: str, cid: str, status: Status, detail: str, requestid: str | None, token: str
) -> PinRecord:
    """A pinning-service record whose sentence never carries the token."""
    if token:
        detail = detail.replace(token, "[token]")
    return record("pinning-service", url, cid, status, detail, requestid)
