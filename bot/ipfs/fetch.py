"""Fetch a file by its CID from a gateway or a Kubo node, and keep it only if it is that file.

A gateway or node is a stranger: the bytes are checked against the CID (``bot.ipfs.cid``)
before they are returned or written, and at most ``settings.max_bytes`` are read, so a
hostile source can neither slip in other bytes nor exhaust memory. The check recomputes
the CID with the import parameters selfimprove pins with, so it recognises what
selfimprove pinned; the same file added with other parameters has another CID.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from bot.core import atomic
from bot.core.errors import UserError
from bot.ipfs.cid import cid_of_bytes, is_cid
from bot.ipfs.http import (
    DEFAULT_SETTINGS,
    IpfsSettings,
    Unreachable,
    base_url,
    bearer,
    new_client,
    public_url,
    refusal,
    send,
)


@dataclass(frozen=True)
class Source:
    """Where bytes come from: an HTTP gateway (``GET /ipfs/<cid>``) or Kubo's RPC API."""

    kind: Literal["gateway", "kubo"]
    url: str  # e.g. http://127.0.0.1:8080 (gateway) or http://127.0.0.1:5001 (Kubo RPC API)

    @classmethod
    def gateway(cls, url: str) -> Source:
        return cls("gateway", url)

    @classmethod
    def kubo(cls, url: str) -> Source:
        return cls("kubo", url)

    @property
    def where(self) -> str:
        what = "the gateway" if self.kind == "gateway" else "the IPFS API"
        return f"{what} at {public_url(self.url)}"


def fetch(
    cid: str,
    source: Source,
    *,
    token: str | None = None,
    settings: IpfsSettings = DEFAULT_SETTINGS,
) -> bytes:
    """The file named by ``cid``, refused (UserError) unless its bytes have that CID."""
    if not is_cid(cid):
        raise UserError(f"not a CID: {cid!r} (expected a base32 CIDv1 such as bafkrei...)")
    url = base_url(source.url, "the IPFS API address" if source.kind == "kubo" else "a gateway")
    where = source.where

    def build(client: httpx.Client) -> httpx.Request:
        if source.kind == "kubo":
            # ``length`` lets the node stop one byte past the cap instead of sending it all.
            params = {"arg": cid, "length": str(settings.max_bytes + 1)}
            return client.build_request(
                "POST", f"{url}/api/v0/cat", params=params, headers=bearer(token)
            )
        return client.build_request("GET", f"{url}/ipfs/{cid}", headers=bearer(token))

    try:
        # A gateway may redirect (to a subdomain gateway); the CID check covers wherever.
        with new_client(settings, follow_redirects=source.kind == "gateway") as client:
            answer = send(client, lambda: build(client), where, settings)
    except Unreachable as exc:
        raise UserError(str(exc)) from None
    if answer.status >= 400:
        raise UserError(refusal(answer, where, token))
    actual = cid_of_bytes(answer.body)
    if actual != cid:
        raise UserError(f"{where} sent bytes whose CID is {actual}, not {cid}: refused")
    return answer.body


def write_fetched(
    cid: str,
    source: Source,
    dest: Path,
    *,
    token: str | None = None,
    settings: IpfsSettings = DEFAULT_SETTINGS,
) -> Path:
    """Fetch ``cid`` and write it to ``dest`` atomically; nothing is written unless it checks."""
    data = fetch(cid, source, token=token, settings=settings)
    return atomic.write_bytes(dest, data)
