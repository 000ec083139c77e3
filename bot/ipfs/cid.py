"""The IPFS CID of a file, computed locally exactly as Kubo's ``ipfs add --cid-version=1`` does.

A patch is pinned under its CID, so the CID we print must be the one Kubo computes, or a
pin would name a different object. Kubo's defaults with ``--cid-version=1``: fixed-size
chunks of 262,144 bytes, raw leaves, sha2-256, base32. A file of one chunk (or none) is
that raw leaf (``bafkrei...``); a larger file is a UnixFS tree of dag-pb nodes over the
raw leaves (``bafybei...``) in the balanced layout with at most 174 links per node. The
raw CID of a whole large file is a different, wrong, identifier.

The two protobufs are a handful of varint-tagged fields, so they are written by hand.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK_SIZE = 262_144
MAX_LINKS = 174
RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12
_UNIXFS_FILE = 2


@dataclass(frozen=True)
class Block:
    """A node of the file's DAG: its binary CID and the sizes a parent link records."""

    cid: bytes
    filesize: int  # bytes of the file under this node
    tsize: int  # bytes of every encoded block under this node, itself included


def cid_of_bytes(data: bytes) -> str:
    """The Kubo CIDv1 of a file holding ``data``."""
    return cid_of_stream([data])


def cid_of_file(path: Path) -> str:
    """The Kubo CIDv1 of the file at ``path``, read a chunk at a time."""
    with open(path, "rb") as handle:
        return cid_of_stream(iter(lambda: handle.read(CHUNK_SIZE), b""))


def cid_of_stream(pieces: Iterable[bytes]) -> str:
    """The Kubo CIDv1 of the concatenation of ``pieces`` (of any sizes)."""
    leaves = [raw_leaf(chunk) for chunk in chunks(pieces)]
    return encode_cid(root(leaves).cid)


def chunks(pieces: Iterable[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Re-cut ``pieces`` into chunks of exactly ``size`` bytes (the last may be shorter).

    An empty input gives one empty chunk: the empty file is a leaf too.
    """
    buffer = bytearray()
    produced = False
    for piece in pieces:
        view = memoryview(piece)
        if buffer:
            taken = size - len(buffer)
            buffer += view[:taken]
            view = view[taken:]
            if len(buffer) < size:
                continue
            yield bytes(buffer)
            buffer.clear()
            produced = True
        while len(view) >= size:
            yield bytes(view[:size])
            view = view[size:]
            produced = True
        buffer += view
    if buffer or not produced:
        yield bytes(buffer)


def raw_leaf(chunk: bytes) -> Block:
    return Block(binary_cid(RAW, chunk), len(chunk), len(chunk))


def root(leaves: Sequence[Block], max_links: int = MAX_LINKS) -> Block:
    """The root of Kubo's balanced layout over ``leaves``.

    Kubo fills a node with ``max_links`` children, then makes it the first child of a
    node one level higher and fills that one with full subtrees of its own depth. That is
    the same tree as grouping each level, left to right, into parents of ``max_links``
    until one node is left. A single leaf is the file itself; two or more always get a
    parent, and so does a lone last group on any level.
    """
    if not leaves:
        raise ValueError("a file has at least one leaf")
    level = list(leaves)
    if len(level) == 1:
        return level[0]
    while True:
        level = [parent(level[i : i + max_links]) for i in range(0, len(level), max_links)]
        if len(level) == 1:
            return level[0]


def parent(children: Sequence[Block]) -> Block:
    """A dag-pb node whose Data is a UnixFS ``File`` and whose links are ``children``."""
    sizes = [child.filesize for child in children]
    data = _varint_field(1, _UNIXFS_FILE) + _varint_field(3, sum(sizes))
    data += b"".join(_varint_field(4, size) for size in sizes)
    links = b"".join(_bytes_field(2, _link(child)) for child in children)
    node = links + _bytes_field(1, data)  # dag-pb canonical order: Links (2) before Data (1)
    return Block(binary_cid(DAG_PB, node), sum(sizes), len(node) + sum(c.tsize for c in children))


def _link(child: Block) -> bytes:
    """A PBLink: Hash, an empty Name (Kubo always writes it) and Tsize."""
    return _bytes_field(1, child.cid) + _bytes_field(2, b"") + _varint_field(3, child.tsize)


def binary_cid(codec: int, block: bytes) -> bytes:
    """CIDv1 bytes: version, codec, then the sha2-256 multihash of ``block``."""
    return (
        varint(1) + varint(codec) + varint(SHA2_256) + varint(32) + hashlib.sha256(block).digest()
    )


def encode_cid(cid: bytes) -> str:
    """Multibase base32 (lowercase, unpadded, prefix ``b``), as Kubo prints a CIDv1."""
    return "b" + base64.b32encode(cid).decode("ascii").lower().rstrip("=")


def is_cid(text: str) -> bool:
    """Whether ``text`` is a base32 CIDv1 with a sha2-256 multihash (what we produce)."""
    if not text.startswith("b") or text != text.lower() or len(text) < 2:
        return False
    body = text[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
        version, at = _read_varint(raw, 0)
        _codec, at = _read_varint(raw, at)
        hash_code, at = _read_varint(raw, at)
        length, at = _read_varint(raw, at)
    except ValueError:  # binascii.Error is a ValueError
        return False
    return version == 1 and hash_code == SHA2_256 and length == 32 == len(raw) - at


def varint(value: int) -> bytes:
    """Unsigned LEB128, the varint of both protobuf and multiformats."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated varint")


def _varint_field(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload
