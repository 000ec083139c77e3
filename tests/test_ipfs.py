"""The IPFS client against real HTTP servers on 127.0.0.1 speaking Kubo's RPC API, a path
gateway and the IPFS Pinning Service API (``tests/ipfs_servers.py``).

The Kubo stand-in checks the import parameters and computes the CID of the upload on its
own; the cases where it answers another CID, refuses, fails or is not there at all are
set up explicitly. No address other than 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from bot.core.errors import UserError
from bot.ipfs.cid import cid_of_bytes
from bot.ipfs.fetch import Source, fetch, write_fetched
from bot.ipfs.http import IpfsSettings, PinRecord
from bot.ipfs.kubo import ADD_PARAMS, node_addresses, pin_with_kubo
from bot.ipfs.pinning import pin_with_service, wait_for_pin
from tests.ipfs_servers import (
    Gateway,
    KuboNode,
    PinningService,
    Reply,
    closed_port_url,
    failure,
    raw_leaf_cid,
)

FAST = IpfsSettings(
    connect_timeout=2.0,
    read_timeout=5.0,
    attempts=3,
    retry_wait=0.001,
    retry_wait_max=0.005,
    poll_interval=0.01,
    max_wait=2.0,
)
PATCH = b"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n--- a\n+++ b\n"
TOKEN = "s3cret-token-value"


# Kubo RPC API: add and pin


def test_kubo_pins_and_our_cid_matches_the_nodes() -> None:
    with KuboNode() as node:
        pin = pin_with_kubo(node.url, PATCH, "c1.patch", settings=FAST)
        (add,) = node.seen("/api/v0/add")
    assert pin.status == "pinned" and pin.pinned
    assert pin.cid == cid_of_bytes(PATCH) == raw_leaf_cid(PATCH)
    assert pin.service == "kubo" and pin.endpoint == node.url and pin.requestid is None
    assert pin.cid in pin.detail and pin.time.endswith("+00:00")
    assert node.store[pin.cid] == PATCH  # the upload arrived whole
    for name, value in ADD_PARAMS.items():
        assert add.param(name) == value


def test_kubo_stand_in_refuses_an_add_without_the_import_parameters() -> None:
    """The parameter check above is a real one: without them the node says no."""
    with KuboNode() as node, httpx.Client() as client:
        files = {"file": ("c1.patch", PATCH)}
        params = {k: v for k, v in ADD_PARAMS.items() if k != "raw-leaves"}
        refused = client.post(f"{node.url}/api/v0/add", params=params, files=files)
        accepted = client.post(f"{node.url}/api/v0/add", params=ADD_PARAMS, files=files)
    assert refused.status_code == 400 and "raw-leaves" in refused.json()["Message"]
    assert accepted.status_code == 200


def test_kubo_answering_another_cid_is_a_failed_pin_naming_both() -> None:
    other = raw_leaf_cid(b"something else")
    with KuboNode() as node:
        node.wrong_hash = other
        pin = pin_with_kubo(node.url, PATCH, "c1.patch", settings=FAST)
    assert pin.status == "failed"
    assert other in pin.detail and cid_of_bytes(PATCH) in pin.detail
    assert pin.cid == cid_of_bytes(PATCH)  # the record keeps our CID, never theirs


def test_kubo_streaming_several_lines_takes_the_files_line() -> None:
    with KuboNode() as node:
        node.wrapped = True
        pin = pin_with_kubo(node.url, PATCH, "c1.patch", settings=FAST)
    assert pin.status == "pinned"


def test_kubo_rejecting_the_token_is_one_sentence() -> None:
    with KuboNode(token=TOKEN) as node:
        wrong = pin_with_kubo(node.url, PATCH, "c1.patch", token="not-it", settings=FAST)
        none = pin_with_kubo(node.url, PATCH, "c1.patch", settings=FAST)
        right = pin_with_kubo(node.url, PATCH, "c1.patch", token=TOKEN, settings=FAST)
        assert node.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert wrong.status == "failed"
    assert wrong.detail == f"the IPFS API at {node.url} rejected the token (HTTP 401)"
    assert none.status == "failed" and "without a token" in none.detail
    assert right.status == "pinned"
    assert TOKEN not in json.dumps(right.to_json())


def test_kubo_retries_a_500_then_pins() -> None:
    with KuboNode(failures=1) as node:
        pin = pin_with_kubo(node.url, PATCH, "c1.patch", settings=FAST)
    assert pin.status == "pinned"
    assert len(node.seen("/api/v0/add")) == 2


def test_kubo_failing_on_every_attempt_is_pending_with_the_reason() -> None:
    with KuboNode(failures=99) as node:
        pin = pin_with_kubo(node.url, PATCH, "c1.patch", settings=FAST)
    assert pin.status == "pending"
    assert len(node.requests) == FAST.attempts
    assert "HTTP 500" in pin.detail and "a passing failure" in pin.detail


def test_kubo_unreachable_is_pending_not_an_exception() -> None:
    url = closed_port_url()
    started = time.monotonic()
    pin = pin_with_kubo(url, PATCH, "c1.patch", settings=FAST)
    assert pin.status == "pending"
    assert pin.detail.startswith(f"not pinned yet: cannot reach the IPFS API at {url}")
    assert f"after {FAST.attempts} attempts" in pin.detail
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("url", ["127.0.0.1:5001", "ftp://127.0.0.1", "http://[::1", "http://h:x"])
def test_a_url_that_is_not_http_is_refused_in_one_sentence(url: str) -> None:
    with pytest.raises(UserError, match="must be an http:// or https:// URL"):
        pin_with_kubo(url, PATCH, "c1.patch", settings=FAST)


def test_node_addresses_are_the_ids_addresses() -> None:
    with KuboNode() as node:
        addresses = node_addresses(node.url, settings=FAST)
    assert addresses[0].startswith("/ip4/127.0.0.1/tcp/4001/p2p/")


# IPFS Pinning Service API


def test_service_goes_queued_pinning_pinned_over_polls() -> None:
    cid = cid_of_bytes(PATCH)
    with PinningService(TOKEN, ("queued", "pinning", "pinned")) as service:
        pin = pin_with_service(
            service.url,
            TOKEN,
            cid,
            "c1.patch",
            origins=["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWNode"],
            meta={"base_commit": "abc123"},
            settings=FAST,
        )
        (created,) = service.seen("/pins")
        polls = service.seen(f"/pins/{pin.requestid}")
    assert pin.status == "pinned" and pin.requestid == "req-1"
    assert pin.service == "pinning-service" and pin.cid == cid
    assert [p.method for p in polls] == ["GET", "GET"]
    sent = json.loads(created.body)
    assert sent == {
        "cid": cid,
        "name": "c1.patch",
        "origins": ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWNode"],
        "meta": {"base_commit": "abc123"},
    }
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in service.requests)
    assert TOKEN not in json.dumps(pin.to_json())


def test_service_stuck_at_queued_is_reported_queued_after_the_deadline() -> None:
    settings = IpfsSettings(poll_interval=0.02, max_wait=0.15, retry_wait=0.001)
    with PinningService(TOKEN, ("queued",)) as service:
        started = time.monotonic()
        pin = pin_with_service(service.url, TOKEN, cid_of_bytes(PATCH), "c1", settings=settings)
        elapsed = time.monotonic() - started
        polls = len(service.seen("/pins/req-1"))
    assert pin.status == "queued" and not pin.pinned
    assert "still queued" in pin.detail and "req-1" in pin.detail
    assert 0.15 <= elapsed < 1.5
    assert polls >= 2


def test_a_queued_record_can_be_resumed_later() -> None:
    with PinningService(TOKEN, ("queued", "queued", "pinned")) as service:
        stuck = pin_with_service(
            service.url,
            TOKEN,
            cid_of_bytes(PATCH),
            "c1",
            settings=IpfsSettings(poll_interval=0.01, max_wait=0.015),
        )
        stored = PinRecord.from_json(json.loads(json.dumps(stuck.to_json())))
        resumed = wait_for_pin(stored, TOKEN, settings=FAST)
    assert stuck.status == "queued"
    assert resumed.status == "pinned" and resumed.requestid == stuck.requestid


def test_losing_contact_while_polling_keeps_the_last_status_and_says_why() -> None:
    with PinningService(TOKEN, ("queued",)) as service:
        stuck = pin_with_service(
            service.url,
            TOKEN,
            cid_of_bytes(PATCH),
            "c1",
            settings=IpfsSettings(poll_interval=0.01, max_wait=0.015),
        )
        service.failures = 99
        lost = wait_for_pin(stuck, TOKEN, settings=FAST)
    assert lost.status == "queued" and lost.requestid == "req-1"
    assert "HTTP 503" in lost.detail and f"each of {FAST.attempts} attempts" in lost.detail


def test_service_answering_failed_is_failed() -> None:
    with PinningService(TOKEN, ("queued", "failed")) as service:
        pin = pin_with_service(service.url, TOKEN, cid_of_bytes(PATCH), "c1", settings=FAST)
    assert pin.status == "failed" and "failed to pin" in pin.detail
    assert "status_details" in pin.detail


def test_service_rejecting_the_token_is_one_sentence() -> None:
    with PinningService(TOKEN) as service:
        pin = pin_with_service(service.url, "wrong", cid_of_bytes(PATCH), "c1", settings=FAST)
        assert len(service.requests) == 1  # a refusal is not retried
    assert pin.status == "failed"
    assert pin.detail == "the pinning endpoint rejected the token (HTTP 401)"


def test_service_other_4xx_gives_the_status_and_its_message() -> None:
    with PinningService(TOKEN) as service:
        service.refuse = failure(409, "INSUFFICIENT_FUNDS", "Unable to process request")
        pin = pin_with_service(service.url, TOKEN, cid_of_bytes(PATCH), "c1", settings=FAST)
    assert pin.status == "failed"
    assert pin.detail == (
        "the pinning endpoint answered HTTP 409: INSUFFICIENT_FUNDS: Unable to process request"
    )


def test_service_echoing_the_token_does_not_put_it_in_the_record() -> None:
    with PinningService(TOKEN) as service:
        service.refuse = failure(400, "BAD_REQUEST", f"token {TOKEN} has no scope")
        pin = pin_with_service(service.url, TOKEN, cid_of_bytes(PATCH), "c1", settings=FAST)
    assert pin.status == "failed" and "[token]" in pin.detail
    assert TOKEN not in json.dumps(pin.to_json())


def test_service_5xx_is_retried_then_pins() -> None:
    with PinningService(TOKEN, ("pinned",)) as service:
        service.failures = 2
        pin = pin_with_service(service.url, TOKEN, cid_of_bytes(PATCH), "c1", settings=FAST)
        assert len(service.seen("/pins")) == 3
    assert pin.status == "pinned"


def test_service_unreachable_is_pending() -> None:
    url = closed_port_url()
    pin = pin_with_service(url, TOKEN, cid_of_bytes(PATCH), "c1", settings=FAST)
    assert pin.status == "pending" and pin.requestid is None
    assert f"cannot reach the pinning endpoint at {url}" in pin.detail


def test_service_answering_for_another_cid_is_failed() -> None:
    other = raw_leaf_cid(b"other")
    with PinningService(TOKEN, ("queued",)) as service:
        service.refuse = Reply.json(
            202, {"requestid": "r", "status": "queued", "pin": {"cid": other}, "delegates": []}
        )
        pin = pin_with_service(service.url, TOKEN, cid_of_bytes(PATCH), "c1", settings=FAST)
    assert pin.status == "failed" and other in pin.detail and cid_of_bytes(PATCH) in pin.detail


def test_service_refuses_a_non_cid_before_any_request() -> None:
    with PinningService(TOKEN) as service:
        with pytest.raises(UserError, match="not a CID"):
            pin_with_service(service.url, TOKEN, "QmNotOurs", "c1", settings=FAST)
        assert service.requests == []


# Pin records


def test_pin_record_round_trips_and_refuses_a_bad_one() -> None:
    record = PinRecord("kubo", "http://127.0.0.1:5001", "bafk", "pending", "why", None, "t")
    assert PinRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    with pytest.raises(UserError, match="not a pin record"):
        PinRecord.from_json({**record.to_json(), "status": "done"})
    with pytest.raises(UserError, match="not a pin record"):
        PinRecord.from_json({"service": "kubo"})
    with pytest.raises(UserError, match="not a pin record"):
        PinRecord.from_json(["kubo"])


def test_the_record_never_names_credentials_in_the_endpoint() -> None:
    pin = pin_with_kubo("http://user:pw@127.0.0.1:9/", PATCH, "c1.patch", settings=FAST)
    assert pin.endpoint == "http://127.0.0.1:9" and "pw" not in pin.detail


# Fetch


def test_fetch_from_a_gateway_and_from_kubo() -> None:
    cid = cid_of_bytes(PATCH)
    with Gateway() as gateway, KuboNode() as node:
        gateway.store[cid] = PATCH
        node.store[cid] = PATCH
        assert fetch(cid, Source.gateway(gateway.url), settings=FAST) == PATCH
        assert fetch(cid, Source.kubo(node.url), settings=FAST) == PATCH
        (cat,) = node.seen("/api/v0/cat")
    assert gateway.requests[0].path == f"/ipfs/{cid}"
    assert cat.method == "POST" and cat.param("arg") == cid


@pytest.mark.parametrize("kind", ["gateway", "kubo"])
def test_tampered_bytes_are_refused_and_nothing_is_written(kind: str, tmp_path: Path) -> None:
    cid = cid_of_bytes(PATCH)
    tampered = PATCH.replace(b"+++ b", b"+++ c")
    with Gateway() as gateway, KuboNode() as node:
        gateway.store[cid] = tampered
        node.store[cid] = tampered
        source = Source.gateway(gateway.url) if kind == "gateway" else Source.kubo(node.url)
        with pytest.raises(UserError) as refused:
            write_fetched(cid, source, tmp_path / "out" / "c1.patch", settings=FAST)
    assert cid in str(refused.value) and cid_of_bytes(tampered) in str(refused.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_write_fetched_writes_the_checked_bytes(tmp_path: Path) -> None:
    cid = cid_of_bytes(PATCH)
    with Gateway() as gateway:
        gateway.store[cid] = PATCH
        written = write_fetched(cid, Source.gateway(gateway.url), tmp_path / "c1.patch")
    assert written.read_bytes() == PATCH
    assert [p.name for p in tmp_path.iterdir()] == ["c1.patch"]  # no temp file left


@pytest.mark.parametrize("text", ["QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "bafk", ""])
def test_a_non_cid_is_refused_before_any_request(text: str) -> None:
    with Gateway() as gateway:
        with pytest.raises(UserError, match="not a CID"):
            fetch(text, Source.gateway(gateway.url), settings=FAST)
        assert gateway.requests == []


@pytest.mark.parametrize("declare_length", [True, False])
def test_an_oversized_answer_is_refused(declare_length: bool) -> None:
    big = b"x" * 50_000
    cid = cid_of_bytes(big)
    small = IpfsSettings(max_bytes=10_000, retry_wait=0.001)
    with Gateway(declare_length=declare_length) as gateway:
        gateway.store[cid] = big
        with pytest.raises(UserError, match="10000-byte limit"):
            fetch(cid, Source.gateway(gateway.url), settings=small)
        assert len(gateway.requests) == 1  # refused, not retried
        assert fetch(cid, Source.gateway(gateway.url), settings=FAST) == big  # under the cap


def test_a_missing_cid_is_one_sentence() -> None:
    cid = cid_of_bytes(PATCH)
    with (
        Gateway() as gateway,
        pytest.raises(UserError, match=r"the gateway at .* answered HTTP 404"),
    ):
        fetch(cid, Source.gateway(gateway.url), settings=FAST)


def test_fetch_from_an_unreachable_source_is_one_sentence() -> None:
    with pytest.raises(UserError, match="cannot reach the IPFS API"):
        fetch(cid_of_bytes(PATCH), Source.kubo(closed_port_url()), settings=FAST)
