"""Publishing bundles to IPFS: pins recorded beside the bundle, retried later, fetched back."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.bundle.publish import Endpoints, pin_file, publish, read_pins
from bot.bundle.read import locate_change
from bot.flow.deliver import _publish
from bot.flow.progress import Progress
from bot.ipfs.cid import cid_of_bytes
from bot.ipfs.http import IpfsSettings
from bot.report.results import Delivered, RunResult
from tests.conftest import make_request, run_cli
from tests.ipfs_servers import Gateway, KuboNode, PinningService, closed_port_url
from tests.test_bundle_trust import OLD, write_sample_change

FAST = IpfsSettings(
    attempts=2, retry_wait=0.001, retry_wait_max=0.002, poll_interval=0.01, max_wait=0.5
)
TOKEN = "pin-token-for-tests"


@pytest.fixture
def change(make_repo: Callable[..., Path], tmp_path: Path) -> Delivered:
    return write_sample_change(
        make_repo({"pkg/mod.py": OLD}), tmp_path / "bundle", None, tmp_path / "home"
    )


def test_node_feeds_the_pinning_service(change: Delivered) -> None:
    with KuboNode() as node, PinningService(TOKEN) as service:
        ends = Endpoints(node.url, service.url, TOKEN)
        records = publish(locate_change(str(change.metadata)), ends, FAST)
        (pin,) = service.pins.values()
    assert [(r.service, r.status) for r in records] == [
        ("kubo", "pinned"),
        ("pinning-service", "pinned"),
    ]
    assert pin["cid"] == change.patch_cid == cid_of_bytes(change.patch.read_bytes())
    assert pin["origins"] and all("/p2p/" in o for o in pin["origins"])  # the node's addresses
    stored = json.loads(pin_file(locate_change(str(change.metadata))).read_text())
    assert {r["status"] for r in stored} == {"pinned"}
    assert TOKEN not in pin_file(locate_change(str(change.metadata))).read_text()


def test_unreachable_node_is_pending_and_nothing_is_lost(change: Delivered) -> None:
    before = {p.name: p.read_bytes() for p in change.patch.parent.iterdir()}
    ends = Endpoints(closed_port_url(), None, None)
    (record,) = publish(locate_change(str(change.metadata)), ends, FAST)
    assert record.status == "pending"
    for name, data in before.items():
        assert (change.patch.parent / name).read_bytes() == data  # the bundle is untouched
    assert [p.status for p in read_pins(locate_change(str(change.metadata)))] == ["pending"]


def test_a_queued_pin_is_resumed_later(change: Delivered) -> None:
    bundle = locate_change(str(change.metadata))
    script = ("queued",) * 4 + ("pinning", "pinned")
    with PinningService(TOKEN, script=script) as service:
        ends = Endpoints(None, service.url, TOKEN)
        quick = dataclasses.replace(FAST, max_wait=0.02, poll_interval=0.01)
        (first,) = publish(bundle, ends, quick)
        assert first.status == "queued"
        (second,) = publish(bundle, ends, FAST)
        assert len(service.pins) == 1, "the retry created a second pin request"
    assert second.status == "pinned" and second.requestid == first.requestid
    assert [p.status for p in read_pins(bundle)] == ["pinned"]


def test_run_publishes_only_when_not_a_dry_run(change: Delivered, tmp_path: Path) -> None:
    with KuboNode() as node:
        for dry_run, expected in ((True, 0), (False, 1)):
            request = make_request(tmp_path / "repo", dry_run=dry_run, ipfs_api=node.url)
            result = RunResult("r", request, delivered=[change])
            _publish(request, result, Progress())
            assert len(node.seen("/api/v0/add")) == expected
    assert any("kubo pinned" in note for note in result.notes)


def test_pin_and_fetch_commands(change: Delivered, tmp_path: Path) -> None:
    with KuboNode() as node, Gateway() as gateway:
        pinned = run_cli("pin", str(change.metadata), "--ipfs-api", node.url, cwd=tmp_path)
        assert pinned.returncode == 0, pinned.stdout + pinned.stderr
        assert "kubo pinned" in pinned.stdout
        out = tmp_path / "fetched.patch"
        got = run_cli(
            "fetch", change.patch_cid, "--from", node.url, "--kubo", "--out", str(out), cwd=tmp_path
        )
        assert got.returncode == 0, got.stderr
        assert out.read_bytes() == change.patch.read_bytes()
        gateway.store[change.patch_cid] = change.patch.read_bytes().replace(b"{", b"[")
        bad = tmp_path / "tampered.patch"
        refused = run_cli(
            "fetch", change.patch_cid, "--from", gateway.url, "--out", str(bad), cwd=tmp_path
        )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert not bad.exists()


def test_pin_without_endpoint_is_one_sentence(change: Delivered, tmp_path: Path) -> None:
    done = run_cli("pin", str(change.metadata), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("selfimprove: error: no IPFS endpoint")
