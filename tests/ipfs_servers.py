"""Loopback stand-ins for the IPFS endpoints, speaking their wire formats on 127.0.0.1.

Each is a real HTTP server in a thread on an ephemeral port: a Kubo RPC API node, a
path gateway and an IPFS Pinning Service. They record every request, so tests can count
retries and read what was sent. The Kubo stand-in parses the multipart upload itself and
computes the CID of a one-chunk file on its own (sha2-256 of the bytes as a raw-leaf
CIDv1), not with ``bot.ipfs.cid``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from tests.loopback import Reply, Seen, StandIn, closed_port_url

__all__ = ["Gateway", "KuboNode", "PinningService", "Reply", "Seen", "StandIn", "closed_port_url"]

CHUNK = 262_144
ADD_REQUIRED = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": "size-262144",
    "hash": "sha2-256",
    "pin": "true",
}


def raw_leaf_cid(data: bytes) -> str:
    """CIDv1, raw codec, sha2-256, base32: what Kubo answers for a file of one chunk."""
    prefix = bytes([0x01, 0x55, 0x12, 0x20])
    encoded = base64.b32encode(prefix + hashlib.sha256(data).digest()).decode("ascii")
    return "b" + encoded.lower().rstrip("=")


def multipart_files(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """(filename, bytes) of each file part of a multipart/form-data body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not match:
        return []
    delimiter = b"--" + match.group(1).encode()
    files = []
    for part in body.split(delimiter)[1:-1]:
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'filename="([^"]*)"', head)
        if name:
            files.append((name.group(1).decode(), data.removesuffix(b"\r\n")))
    return files


def kubo_error(status: int, message: str) -> Reply:
    return Reply.json(status, {"Message": message, "Code": 0, "Type": "error"})


class KuboNode(StandIn):
    """Kubo's RPC API: ``add`` (multipart, CIDv1 raw leaves only), ``cat`` and ``id``."""

    def __init__(self, *, token: str | None = None, failures: int = 0) -> None:
        super().__init__()
        self.store: dict[str, bytes] = {}
        self.token = token
        self.failures = failures  # answer 500 to this many requests first
        self.wrong_hash: str | None = None  # answer this Hash instead of the right one
        self.wrapped = False  # also stream a progress line and a wrapping directory's line

    def answer(self, seen: Seen) -> Reply:
        if self.token and seen.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, b"Unauthorized", {"Content-Type": "text/plain"})
        if self.failures > 0:
            self.failures -= 1
            return kubo_error(500, "stand-in: a passing failure")
        if seen.method != "POST":
            return Reply(405, b"405 - Method Not Allowed", {"Content-Type": "text/plain"})
        if seen.path == "/api/v0/add":
            return self._add(seen)
        if seen.path == "/api/v0/cat":
            data = self.store.get(seen.param("arg") or "")
            if data is None:
                return kubo_error(500, "block was not found locally (offline)")
            length = seen.param("length")
            return Reply(200, data[: int(length)] if length else data)
        if seen.path == "/api/v0/id":
            peer = "12D3KooWStandInPeer"
            addresses = [f"/ip4/127.0.0.1/tcp/4001/p2p/{peer}", f"/ip6/::1/tcp/4001/p2p/{peer}"]
            return Reply.json(200, {"ID": peer, "Addresses": addresses})
        return Reply(404, b"404 page not found", {"Content-Type": "text/plain"})

    def _add(self, seen: Seen) -> Reply:
        wrong = {k: seen.param(k) for k, v in ADD_REQUIRED.items() if seen.param(k) != v}
        if wrong:
            return kubo_error(400, f"stand-in: add needs {ADD_REQUIRED}, got {wrong}")
        files = multipart_files(seen.headers.get("content-type", ""), seen.body)
        if len(files) != 1:
            return kubo_error(400, "stand-in: expected exactly one file part")
        name, data = files[0]
        if len(data) > CHUNK:
            return kubo_error(500, "stand-in: only files of one chunk are supported")
        cid = raw_leaf_cid(data)
        self.store[cid] = data
        lines: list[dict[str, object]] = [
            {"Name": name, "Hash": self.wrong_hash or cid, "Size": str(len(data))}
        ]
        if self.wrapped:
            directory = raw_leaf_cid(b"directory:" + data)
            lines.insert(0, {"Name": name, "Bytes": len(data)})
            lines.append({"Name": "", "Hash": directory, "Size": str(len(data) + 60)})
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        return Reply(200, body, {"Content-Type": "application/json", "X-Chunked-Output": "1"})


class Gateway(StandIn):
    """A path gateway: ``GET /ipfs/<cid>`` answers whatever its store holds for the CID."""

    def __init__(self, *, declare_length: bool = True) -> None:
        super().__init__()
        self.store: dict[str, bytes] = {}
        self.declare_length = declare_length

    def answer(self, seen: Seen) -> Reply:
        cid = seen.path.removeprefix("/ipfs/")
        if seen.method != "GET" or not seen.path.startswith("/ipfs/") or cid not in self.store:
            return Reply(404, b"ipfs resolve: not found", {"Content-Type": "text/plain"})
        headers = {"Content-Type": "application/octet-stream", "X-Ipfs-Path": seen.path}
        return Reply(200, self.store[cid], headers, declare_length=self.declare_length)


def failure(status: int, reason: str, details: str) -> Reply:
    """The Pinning Service API's Failure object."""
    return Reply.json(status, {"error": {"reason": reason, "details": details}})


class PinningService(StandIn):
    """The IPFS Pinning Service API: ``POST /pins`` and ``GET /pins/{requestid}``.

    ``script`` is the status of a request at creation, then at each poll (the last repeats).
    """

    def __init__(self, token: str, script: tuple[str, ...] = ("queued", "pinned")) -> None:
        super().__init__()
        self.token = token
        self.script = script
        self.failures = 0  # answer 500 to this many requests first
        self.refuse: Reply | None = None  # answer POST /pins with this
        self.pins: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}

    def answer(self, seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return failure(401, "UNAUTHORIZED", "Access token is missing or invalid")
        if self.failures > 0:
            self.failures -= 1
            return failure(503, "UNAVAILABLE", "stand-in: try again")
        if seen.method == "POST" and seen.path == "/pins":
            return self.refuse or self._create(seen)
        requestid = seen.path.removeprefix("/pins/")
        if seen.method == "GET" and requestid in self.pins:
            self.polls[requestid] += 1
            return Reply.json(200, self._status(requestid))
        return failure(404, "NOT_FOUND", "The specified resource was not found")

    def _create(self, seen: Seen) -> Reply:
        try:
            pin = json.loads(seen.body)
        except ValueError:
            return failure(400, "BAD_REQUEST", "the body is not JSON")
        valid = (
            isinstance(pin, dict)
            and isinstance(pin.get("cid"), str)
            and pin["cid"]
            and isinstance(pin.get("name", ""), str)
            and all(isinstance(o, str) for o in pin.get("origins", []))
            and all(isinstance(v, str) for v in pin.get("meta", {}).values())
        )
        if not valid:
            return failure(400, "BAD_REQUEST", f"not a Pin object: {pin!r}")
        requestid = f"req-{len(self.pins) + 1}"
        self.pins[requestid] = pin
        self.polls[requestid] = 0
        return Reply.json(202, self._status(requestid))

    def _status(self, requestid: str) -> dict[str, Any]:
        step = min(self.polls[requestid], len(self.script) - 1)
        return {
            "requestid": requestid,
            "status": self.script[step],
            "created": "2024-01-01T00:00:00Z",
            "pin": self.pins[requestid],
            "delegates": ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWService"],
            "info": {"status_details": f"step {step}"},
        }
