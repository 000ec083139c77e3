"""Kubo-compatible CIDs: fixed points, independent implementations, and the tree layout.

The expected ``bafy...`` values were derived independently with the JavaScript UnixFS
importer (npm ``ipfs-unixfs-importer`` 17.1.1, the importer of js-ipfs/Helia, options
``cidVersion: 1, rawLeaves: true, chunker: fixedSize(262144), layout:
balanced({maxChildrenPerNode: 174})``, i.e. Kubo's ``ipfs add --cid-version=1``) on the
same bytes as below, and not by running this module (the small fan-out case used
``fixedSize(4)`` and ``maxChildrenPerNode: 3``; the 174*174+1-leaf case fed 7.9 GB of
zero chunks through the importer once). The raw (``bafkrei...``) values are
checked here against two PyPI implementations as well; the dag-pb framing is checked
against ``ipld-dag-pb``, a Python port of the reference ``@ipld/dag-pb`` codec.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.ipfs.cid import (
    CHUNK_SIZE,
    binary_cid,
    chunks,
    cid_of_bytes,
    cid_of_file,
    cid_of_stream,
    encode_cid,
    is_cid,
    parent,
    raw_leaf,
    root,
)

EMPTY = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"  # Kubo, well known


def stream(n: int) -> bytes:
    """``n`` deterministic, non-repeating bytes: sha256 of a counter, concatenated."""
    out = b"".join(hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n // 32 + 1))
    return out[:n]


def patch_text() -> bytes:
    """A patch-like text of about 3 KB."""
    lines = [
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001",
        "From: selfimprove <selfimprove@users.noreply.github.com>",
        "Subject: [PATCH] perf(textstats.core): word_counts via membership-set",
        "",
        "diff --git a/src/textstats/core.py b/src/textstats/core.py",
        "--- a/src/textstats/core.py",
        "+++ b/src/textstats/core.py",
    ]
    for i in range(17):
        lines.append(f"@@ -{10 * i + 1},3 +{10 * i + 1},3 @@ def f{i}(words):")
        lines.append(f"-    return [w for w in words if w in ['a', 'an', 'the', 'of{i}']]")
        lines.append(f"+    return [w for w in words if w in {{'a', 'an', 'the', 'of{i}'}}]")
    return ("\n".join(lines) + "\n").encode()


CASES: list[tuple[str, Callable[[], bytes], str]] = [
    ("empty", lambda: b"", EMPTY),
    ("patch-3k", patch_text, "bafkreiakwaylwju7ohkfohfpznhaf7zziod67ttnmjfrsp4kotoih4ae2i"),
    (
        "exactly-one-chunk",
        lambda: stream(CHUNK_SIZE),
        "bafkreigy5tcgloscldzhi2iadhemu2v7dj2u5wme7vgim2jlmnxindpsfi",
    ),
    (
        "one-chunk-plus-one-byte",
        lambda: stream(CHUNK_SIZE + 1),
        "bafybeiavfl3mrv5rig3iqfle6aheyo3crcdzseal3jfwykhuwtmc4vtyjy",
    ),
    (
        "about-1mb",
        lambda: stream(1_000_000),
        "bafybeiap7ioud3krrnoopo7ginypritpjpmyzltcd2y3uzehrxgvdi3bkm",
    ),
]


@pytest.mark.parametrize(("name", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_known_cids_from_bytes_and_file(
    tmp_path: Path, name: str, make: Callable[[], bytes], expected: str
) -> None:
    data = make()
    path = tmp_path / name
    path.write_bytes(data)
    assert cid_of_bytes(data) == expected
    assert cid_of_file(path) == expected
    assert is_cid(expected)


def test_patch_text_is_about_3kb() -> None:
    assert 2_500 < len(patch_text()) < 3_500


@pytest.mark.parametrize("size", [0, 3_000, CHUNK_SIZE])
def test_single_chunk_files_match_independent_raw_implementations(size: int) -> None:
    ipfs_cid = pytest.importorskip("ipfs_cid", reason="test dependency ipfs-cid not installed")
    multiformats = pytest.importorskip("multiformats", reason="multiformats not installed")
    data = stream(size)
    digest = multiformats.multihash.digest(data, "sha2-256")
    by_multiformats = str(multiformats.CID("base32", 1, "raw", digest))
    assert cid_of_bytes(data) == ipfs_cid.cid_sha256_hash(data) == by_multiformats


def test_a_large_file_is_a_tree_not_the_raw_hash_of_its_bytes() -> None:
    data = stream(CHUNK_SIZE + 1)
    assert cid_of_bytes(data).startswith("bafybei")
    assert cid_of_bytes(data) != encode_cid(binary_cid(0x55, data))


def test_dag_pb_node_matches_reference_codec() -> None:
    multiformats = pytest.importorskip("multiformats", reason="multiformats not installed")
    dag_pb = pytest.importorskip("ipld_dag_pb", reason="test dependency ipld-dag-pb not installed")
    data = stream(CHUNK_SIZE + 1)
    leaves = [raw_leaf(data[:CHUNK_SIZE]), raw_leaf(data[CHUNK_SIZE:])]
    # UnixFS Data by hand: Type=File(2), filesize=262145, blocksizes=[262144, 1] (unpacked)
    unixfs = bytes.fromhex("080218818010208080102001")
    links = [dag_pb.PBLink(multiformats.CID.decode(leaf.cid), "", leaf.tsize) for leaf in leaves]
    node = bytes(dag_pb.encode(dag_pb.PBNode(unixfs, links)))
    digest = multiformats.multihash.digest(node, "sha2-256")
    expected = multiformats.CID("base32", 1, "dag-pb", digest)
    built = parent(leaves)
    assert encode_cid(built.cid) == str(expected)
    assert built.filesize == CHUNK_SIZE + 1
    assert built.tsize == len(node) + CHUNK_SIZE + 1


def test_pieces_of_any_size_give_the_same_cid() -> None:
    data = stream(CHUNK_SIZE * 2 + 5)
    cuts = [0, 1, 1000, CHUNK_SIZE - 1, CHUNK_SIZE + 7, len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(cuts)]
    assert cid_of_stream(iter(pieces)) == cid_of_bytes(data)
    assert [len(c) for c in chunks(pieces)] == [CHUNK_SIZE, CHUNK_SIZE, 5]
    assert list(chunks([])) == [b""]
    assert list(chunks([b"", b""])) == [b""]


def test_more_than_174_leaves_gets_a_second_level() -> None:
    """176 leaves (~46 MB streamed, never on disk): a root over [174 leaves] and [2 leaves]."""

    def pieces() -> Iterator[bytes]:
        for i in range(175):
            yield bytes([i]) * CHUNK_SIZE
        yield b"tail" * 250

    assert cid_of_stream(pieces()) == "bafybeiethvuohm3iv7ptutyx5ae7qr2x6635mgkgyxms23ewowm6xbdw6u"


def test_third_level_layout_over_leaf_cids() -> None:
    """174*174+1 zero chunks (7.9 GB if it were a file): the layout over the leaf CIDs only."""
    leaves = [raw_leaf(bytes(CHUNK_SIZE))] * (174 * 174 + 1)
    top = root(leaves)
    assert encode_cid(top.cid) == "bafybeibqr5nnenx3ea57tdg3kla3rkb7hvbv7meogyxrubwrc5vmicaw5u"
    assert top.filesize == len(leaves) * CHUNK_SIZE
    assert top.tsize == 7_938_458_717  # the importer's cumulative size for the same tree


def test_deep_layout_with_a_small_fan_out() -> None:
    """Chunks of 4 bytes and 3 links per node: 63 leaves, four levels, a short last leaf."""
    data = stream(250)
    top = root([raw_leaf(c) for c in chunks([data], size=4)], max_links=3)
    assert encode_cid(top.cid) == "bafybeihibap34oqaex6zgntnlvcscyxfc2gmjzcf3eedcodwjrus7um3cq"
    assert top.tsize == 4798


def test_is_cid() -> None:
    assert is_cid(cid_of_bytes(b"x"))
    assert is_cid(cid_of_bytes(stream(CHUNK_SIZE + 1)))
    assert not is_cid("")
    assert not is_cid("b")
    assert not is_cid(EMPTY.upper())
    assert not is_cid(EMPTY[:-2])
    assert not is_cid(EMPTY + "a")
    assert not is_cid("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")  # CIDv0: not ours
    assert not is_cid("bafkrei!!")
