"""Kubo's RPC API: add and pin a patch, and name the node's addresses.

The node is never trusted: the CID it answers for the upload must equal the CID computed
here (``bot.ipfs.cid``), or the pin is reported as failed with both CIDs named. A node that
cannot be reached gives a ``pending`` record; the bundle is on disk already.
"""

from __future__ import annotations

import json

from bot.core.errors import UserError
from bot.ipfs.cid import cid_of_bytes
from bot.ipfs.http import (
    DEFAULT_SETTINGS,
    IpfsSettings,
    PinRecord,
    Unreachable,
    base_url,
    bearer,
    new_client,
    public_url,
    record,
    refusal,
    send,
)

# Every parameter the local CID assumes, passed explicitly: a node's own Import.* config
# (another chunker, wider nodes, CIDv0, inlining) must not change the CID it answers.
# Older Kubo versions ignore options they do not know (``max-file-links`` is 0.35+).
ADD_PARAMS: dict[str, str] = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": "size-262144",
    "hash": "sha2-256",
    "max-file-links": "174",
    "trickle": "false",
    "inline": "false",
    "wrap-with-directory": "false",
    "cid-base": "base32",
    "progress": "false",
    "pin": "true",
}


def pin_with_kubo(
    api: str,
    data: bytes,
    name: str,
    *,
    token: str | None = None,
    settings: IpfsSettings = DEFAULT_SETTINGS,
) -> PinRecord:
    """Add and pin ``data`` on the Kubo node whose RPC API is at ``api`` (``http://host:5001``).

    Pinned only when the node's CID equals ours; ``pending`` when the node cannot be reached.
    """
    cid = cid_of_bytes(data)
    url = base_url(api, "the IPFS API address")
    where = f"the IPFS API at {public_url(url)}"
    try:
        with new_client(settings) as client:
            answer = send(
                client,
                lambda: client.build_request(
                    "POST",
                    f"{url}/api/v0/add",
                    params=ADD_PARAMS,
                    files={"file": (name, data, "application/octet-stream")},
                    headers=bearer(token),
                ),
                where,
                settings,
            )
    except Unreachable as exc:
        return record("kubo", url, cid, "pending", f"not pinned yet: {exc}")
    except UserError as exc:
        return record("kubo", url, cid, "failed", str(exc))
    if answer.status >= 400:
        return record("kubo", url, cid, "failed", refusal(answer, where, token))
    answered = added_cid(answer.body, name)
    if answered is None:
        return record("kubo", url, cid, "failed", f"{where} answered without a CID for {name}")
    if answered != cid:
        detail = (
            f"{where} answered CID {answered} for {name}, but its CID is {cid}: "
            "the node's pin is not trusted"
        )
        return record("kubo", url, cid, "failed", detail)
    return record("kubo", url, cid, "pinned", f"pinned on {where} as {cid}")


def added_cid(body: bytes, name: str) -> str | None:
    """The ``Hash`` of the file named ``name`` in Kubo's JSON-lines answer to ``add``.

    Progress lines carry no ``Hash``; a wrapping directory's line has another ``Name``.
    Without a line for ``name``, the last line with a ``Hash`` is the file's.
    """
    hashes: list[tuple[str, str]] = []
    for line in body.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("Hash"), str):
            hashes.append((str(event.get("Name", "")), event["Hash"]))
    named = [cid for event_name, cid in hashes if event_name == name]
    if named:
        return named[-1]
    return hashes[-1][1] if hashes else None


def node_addresses(
    api: str, *, token: str | None = None, settings: IpfsSettings = DEFAULT_SETTINGS
) -> list[str]:
    """The multiaddrs of the Kubo node at ``api``: ``origins`` for a pinning service."""
    url = base_url(api, "the IPFS API address")
    where = f"the IPFS API at {public_url(url)}"
    try:
        with new_client(settings) as client:
            answer = send(
                client,
                lambda: client.build_request("POST", f"{url}/api/v0/id", headers=bearer(token)),
                where,
                settings,
            )
    except Unreachable as exc:
        raise UserError(str(exc)) from None
    if answer.status >= 400:
        raise UserError(refusal(answer, where, token))
    try:
        found = answer.json()
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise UserError(f"{where} answered /api/v0/id without a JSON object")
    return [a for a in found.get("Addresses") or [] if isinstance(a, str)]
