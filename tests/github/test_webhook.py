"""Webhook authenticity and event reading, on deliveries shaped like GitHub's."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from bot.core.errors import UserError
from bot.github.webhook import (
    Event,
    EventRejected,
    SignatureRejected,
    parse_event,
    read_delivery,
    require_secret,
    sign,
    verify_signature,
)

# GitHub's own test vector ("Validating webhook deliveries", docs.github.com).
DOCS_SECRET = b"It's a Secret to Everybody"
DOCS_PAYLOAD = b"Hello, World!"
DOCS_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

SECRET = b"6f1ed002ab5595859014ebf0951522d9"
COMMENT = {
    "action": "created",
    "issue": {"number": 42, "title": "Tokenizer is slow", "pull_request": None},
    "comment": {
        "id": 1_234_567_890,
        "body": "/improve src/textstats/tokenize.py --dry-run\r\n",
        "user": {"login": "octocat", "type": "User"},
        "author_association": "MEMBER",
    },
    "repository": {"full_name": "octo-org/textstats", "default_branch": "main"},
    "installation": {"id": 9876543},
}
BODY = json.dumps(COMMENT, separators=(",", ":"), ensure_ascii=False).encode()


def github_signature(secret: bytes, body: bytes) -> str:
    """The documented algorithm, written out here: HMAC-SHA256 hex digest, ``sha256=``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def headers(body: bytes, **extra: str) -> dict[str, str]:
    """Delivery headers as GitHub sends them (names in GitHub's own capitalisation)."""
    return {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-GitHub-Event": "issue_comment",
        "X-GitHub-Hook-ID": "292430182",
        "X-GitHub-Hook-Installation-Target-ID": "79929171",
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature-256": github_signature(SECRET, body),
        **extra,
    }


def test_githubs_documented_vector() -> None:
    assert github_signature(DOCS_SECRET, DOCS_PAYLOAD) == DOCS_SIGNATURE
    assert sign(DOCS_SECRET, DOCS_PAYLOAD) == DOCS_SIGNATURE
    verify_signature(DOCS_SECRET, DOCS_PAYLOAD, DOCS_SIGNATURE)
    verify_signature(DOCS_SECRET, DOCS_PAYLOAD, DOCS_SIGNATURE.upper().replace("SHA256", "sha256"))


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        (DOCS_SIGNATURE[7:], "not sha256="),
        ("sha1=" + hashlib.sha1(DOCS_PAYLOAD).hexdigest(), "not sha256="),
        ("SHA256=" + DOCS_SIGNATURE[7:], "not sha256="),
        (DOCS_SIGNATURE + "00", "not sha256="),
        (DOCS_SIGNATURE[:-1], "not sha256="),
        (DOCS_SIGNATURE[:-1] + "g", "not sha256="),
        (DOCS_SIGNATURE + ",sha256=" + "0" * 64, "not sha256="),
        ("sha256=" + "0" * 64, "does not match"),
        (DOCS_SIGNATURE[:-1] + "8", "does not match"),
    ],
)
def test_bad_signatures_are_rejected(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureRejected, match=reason) as caught:
        verify_signature(DOCS_SECRET, DOCS_PAYLOAD, header)
    assert caught.value.status == 401


def test_a_signature_only_fits_its_own_body_and_secret() -> None:
    other = json.dumps({**COMMENT, "action": "edited"}).encode()
    replayed = github_signature(SECRET, other)
    with pytest.raises(SignatureRejected, match="does not match"):
        verify_signature(SECRET, BODY, replayed)
    with pytest.raises(SignatureRejected, match="does not match"):
        verify_signature(SECRET, BODY + b"\n", github_signature(SECRET, BODY))
    with pytest.raises(SignatureRejected, match="does not match"):
        verify_signature(b"another secret", BODY, github_signature(SECRET, BODY))


def test_an_empty_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="empty webhook secret"):
        verify_signature(b"", BODY, github_signature(b"", BODY))


@pytest.mark.parametrize("value", [None, "", "  \n"])
def test_no_secret_no_server(value: str | None) -> None:
    with pytest.raises(UserError, match="refusing to start without a webhook secret"):
        require_secret(value)


def test_the_secret_is_used_as_given() -> None:
    assert require_secret("s3cr3t-ünïcode ") == "s3cr3t-ünïcode ".encode()


def test_a_verified_delivery_is_read() -> None:
    event = read_delivery(SECRET, headers(BODY), BODY)
    assert event == Event(
        name="issue_comment",
        delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
        action="created",
        payload=COMMENT,
    )


def test_a_forged_delivery_is_never_parsed() -> None:
    forged = BODY.replace(b"octocat", b"mallory")
    with pytest.raises(SignatureRejected):
        read_delivery(SECRET, headers(BODY), forged)
    unsigned = {k: v for k, v in headers(BODY).items() if k != "X-Hub-Signature-256"}
    with pytest.raises(SignatureRejected, match="missing"):
        read_delivery(SECRET, unsigned, b"not even json")


def test_events_without_an_action() -> None:
    body = b'{"zen":"Keep it logically awesome.","hook_id":292430182}'
    event = parse_event({"x-github-event": "ping", "x-github-delivery": "d-1"}, body)
    assert (event.name, event.action, event.payload["hook_id"]) == ("ping", None, 292430182)
    odd = parse_event({"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-2"}, b'{"action": 3}')
    assert odd.action is None


@pytest.mark.parametrize(
    ("extra", "body", "reason"),
    [
        ({"X-GitHub-Event": ""}, BODY, "x-github-event header is missing"),
        ({"X-GitHub-Delivery": " "}, BODY, "x-github-delivery header is missing"),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"payload=" + BODY,
            "not application/json",
        ),
        ({}, b"payload=%7B%7D", "not valid JSON"),
        ({}, b"\xff\xfe{", "not valid JSON"),
        ({}, b"", "not valid JSON"),
        ({}, b"[1, 2]", "not an object"),
        ({}, b'"created"', "not an object"),
        ({}, b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_unreadable_deliveries_are_refused(extra: dict[str, str], body: bytes, reason: str) -> None:
    with pytest.raises(EventRejected, match=reason) as caught:
        parse_event(headers(body, **extra), body)
    assert caught.value.status == 400


def test_content_type_parameters_are_allowed() -> None:
    h = headers(BODY, **{"Content-Type": "application/json; charset=utf-8"})
    assert parse_event(h, BODY).action == "created"
