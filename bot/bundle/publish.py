"""Publish a bundle's patch to IPFS and keep the outcome beside it, so a later retry can finish.

The pin status lives in ``<id>.pin.json``, not in the signed ``<id>.json``: pinning
happens after signing and may take several tries, and must not invalidate the signature.
Endpoints and tokens come from flags or the environment (``SELFIMPROVE_IPFS_API``,
``SELFIMPROVE_PINNING_ENDPOINT``, ``SELFIMPROVE_PINNING_TOKEN``); tokens never reach a
subprocess (the sandbox scrubs ``*_TOKEN``) nor a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from bot.bundle.read import Change
from bot.core import atomic, secrets
from bot.core.errors import UserError
from bot.ipfs.cid import cid_of_bytes
from bot.ipfs.http import DEFAULT_SETTINGS, IpfsSettings, PinRecord
from bot.ipfs.kubo import node_addresses, pin_with_kubo
from bot.ipfs.pinning import pin_with_service, wait_for_pin


@dataclass(frozen=True)
class Endpoints:
    """Where to pin: a Kubo node, a pinning service, or both (the node then feeds the service)."""

    ipfs_api: str | None = None
    pinning_endpoint: str | None = None
    pinning_token: str | None = None

    @classmethod
    def from_env(cls, ipfs_api: str | None = None, pinning: str | None = None) -> Endpoints:
        return cls(
            ipfs_api or os.environ.get("SELFIMPROVE_IPFS_API") or None,
            pinning or os.environ.get("SELFIMPROVE_PINNING_ENDPOINT") or None,
            secrets.get("SELFIMPROVE_PINNING_TOKEN") or None,
        )

    @property
    def configured(self) -> bool:
        return bool(self.ipfs_api or self.pinning_endpoint)


def pin_file(change: Change) -> Path:
    return change.metadata.with_name(f"{change.id}.pin.json")


def read_pins(change: Change) -> list[PinRecord]:
    """The pin records kept beside the change (none yet: an empty list)."""
    path = pin_file(change)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, list):
        raise UserError(f"{path} is not a list of pin records")
    return [PinRecord.from_json(item) for item in data]


def publish(
    change: Change, endpoints: Endpoints, settings: IpfsSettings = DEFAULT_SETTINGS
) -> list[PinRecord]:
    """Pin the change's patch where configured (or resume an unfinished pin) and record it."""
    if not endpoints.configured:
        raise UserError(
            "no IPFS endpoint: pass --ipfs-api or --pinning-endpoint, or set "
            "SELFIMPROVE_IPFS_API / SELFIMPROVE_PINNING_ENDPOINT"
        )
    if endpoints.pinning_endpoint and not endpoints.pinning_token:
        raise UserError("the pinning service needs a token in SELFIMPROVE_PINNING_TOKEN")
    data = change.patch.read_bytes()
    name = change.patch.name
    previous = {(p.service, p.endpoint): p for p in read_pins(change)}
    records: list[PinRecord] = []
    origins: list[str] = []
    if endpoints.ipfs_api:
        kubo = pin_with_kubo(endpoints.ipfs_api, data, name, settings=settings)
        records.append(kubo)
        if kubo.pinned:
            origins = node_addresses(endpoints.ipfs_api, settings=settings)
    if endpoints.pinning_endpoint and endpoints.pinning_token:
        token = endpoints.pinning_token
        earlier = next(
            (p for p in previous.values() if p.service == "pinning-service" and p.requestid),
            None,
        )
        if earlier is not None and earlier.status in ("queued", "pinning"):
            records.append(wait_for_pin(earlier, token, settings=settings))
        else:
            cid = cid_of_bytes(data)
            meta = {"base_commit": str(change.facts["base_commit"]), "bundle": change.id}
            records.append(
                pin_with_service(
                    endpoints.pinning_endpoint,
                    token,
                    cid,
                    name,
                    origins=origins,
                    meta=meta,
                    settings=settings,
                )
            )
    for record in records:
        previous[(record.service, record.endpoint)] = record
    text = json.dumps([p.to_json() for p in previous.values()], indent=2) + "\n"
    atomic.write_text(pin_file(change), text)
    return records
