"""The webhook endpoint, served for real on 127.0.0.1 and driven with httpx.

Deliveries are signed as GitHub signs them; the workers use the real GitHub client
against the REST stand-in, so "nothing runs" means the stand-in saw no request at all.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.cli import main as cli_main
from bot.core.errors import UserError
from bot.github import handoff
from bot.github.replay import SeenDeliveries
from bot.github.server import ServeSettings, WebhookServer, serve
from bot.github.webhook import sign
from tests.github.rest_standin import GitHubStandIn, Reply, RepoState

SECRET = b"a-webhook-secret-for-tests"
REPO = "octo-org/textstats"
INSTALLATION = 9876543


def comment_payload(body: str, *, user: str = "octocat", comment_id: int = 1_234_567) -> bytes:
    payload = {
        "action": "created",
        "issue": {"number": 42, "title": "Tokenizer is slow"},
        "comment": {
            "id": comment_id,
            "body": body,
            "user": {"login": user, "type": "User"},
            "author_association": "MEMBER",
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
        "installation": {"id": INSTALLATION},
        "sender": {"login": user, "type": "User"},
    }
    return json.dumps(payload).encode()


def headers(body: bytes, event: str = "issue_comment", signature: str | None = "sign") -> dict:
    found = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        # one id per body, as GitHub gives each delivery its own (a redelivery keeps it)
        "X-GitHub-Delivery": str(uuid.uuid5(uuid.NAMESPACE_URL, hashlib.sha256(body).hexdigest())),
        "User-Agent": "GitHub-Hookshot/044aadd",
    }
    if signature == "sign":
        found["X-Hub-Signature-256"] = sign(SECRET, body)
    elif signature is not None:
        found["X-Hub-Signature-256"] = signature
    return found


@pytest.fixture
def github() -> Iterator[tuple[GitHubStandIn, RepoState]]:
    with GitHubStandIn() as gh:
        repo = gh.add_repo(REPO, installation_id=INSTALLATION)
        repo.permissions.update({"octocat": "write", "reader": "read"})
        yield gh, repo


@pytest.fixture
def endpoint(
    github: tuple[GitHubStandIn, RepoState],
) -> Iterator[Callable[..., WebhookServer]]:
    started: list[WebhookServer] = []
    gh, _ = github

    def start(**changes: Any) -> WebhookServer:
        fields: dict[str, Any] = {
            "secret": SECRET,
            "env": {"GITHUB_TOKEN": gh.token},
            "api_url": gh.url,
        }
        settings = ServeSettings(**(fields | changes))
        server = WebhookServer(settings, log=io.StringIO())
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def post(server: WebhookServer, body: bytes, hdrs: dict) -> httpx.Response:
    return httpx.post(server.url + "/webhook", content=body, headers=hdrs, timeout=10)


@pytest.mark.parametrize(
    "signature",
    [
        None,  # missing
        "",  # empty
        "sha1=" + "0" * 40,  # GitHub's old header shape
        "sha256=" + "0" * 64,  # well-formed, wrong
        sign(b"another secret", comment_payload("/improve")),  # signed with another secret
        sign(SECRET, comment_payload("/improve src/other.py")),  # replayed: another body's
    ],
    ids=["missing", "empty", "sha1", "wrong", "other-secret", "replayed-body"],
)
def test_unsigned_or_missigned_deliveries_are_refused_and_nothing_runs(
    endpoint: Callable[..., WebhookServer],
    github: tuple[GitHubStandIn, RepoState],
    signature: str | None,
) -> None:
    gh, repo = github
    server = endpoint()
    body = comment_payload("/improve src/textstats/tokenize.py")
    answer = post(server, body, headers(body, signature=signature))
    assert answer.status_code == 401
    assert server.wait_idle(5)
    assert server.events.qsize() == 0 and server.handled == 0
    assert gh.requests == []
    assert repo.repository_dispatches == [] and repo.reactions == [] and repo.comments == []


def test_a_body_that_is_not_json_is_refused_only_after_its_signature_is_checked(
    endpoint: Callable[..., WebhookServer], github: tuple[GitHubStandIn, RepoState]
) -> None:
    server = endpoint()
    body = b"payload=%7B%7D"
    assert post(server, body, headers(body, signature="sha256=" + "1" * 64)).status_code == 401
    assert post(server, body, headers(body)).status_code == 400
    assert github[0].requests == []


def test_a_command_is_answered_at_once_then_dispatched_to_the_repository(
    endpoint: Callable[..., WebhookServer], github: tuple[GitHubStandIn, RepoState]
) -> None:
    gh, repo = github
    server = endpoint()
    body = comment_payload("Please:\n/improve src/textstats/tokenize.py --budget 2\n")
    began = time.monotonic()
    answer = post(server, body, headers(body))
    assert answer.status_code == 202, answer.text
    assert time.monotonic() - began < 5  # answered without waiting for GitHub work
    assert server.wait_idle(30)
    assert server.handled == 1
    assert isinstance(server.log, io.StringIO)
    assert f"{REPO}: run dispatched for #42 by octocat" in server.log.getvalue()
    assert [(r.method, r.path) for r in gh.requests] == [
        ("GET", f"/repos/{REPO}/collaborators/octocat/permission"),
        ("POST", f"/repos/{REPO}/issues/comments/1234567/reactions"),
        ("POST", f"/repos/{REPO}/dispatches"),
    ]
    assert [r["content"] for r in repo.reactions] == ["eyes"]
    (dispatch,) = repo.repository_dispatches
    assert dispatch["event_type"] == handoff.EVENT_TYPE
    order = handoff.from_payload(dispatch["client_payload"])
    assert order.command.paths == ("src/textstats/tokenize.py",)
    assert order.command.budget == 2
    assert (order.repository, order.issue_number, order.comment_id, order.user) == (
        REPO,
        42,
        1_234_567,
        "octocat",
    )


def test_the_same_body_delivered_twice_runs_once(
    endpoint: Callable[..., WebhookServer], github: tuple[GitHubStandIn, RepoState]
) -> None:
    _, repo = github
    server = endpoint()
    body = comment_payload("/improve")
    assert post(server, body, headers(body)).status_code == 202
    assert post(server, body, headers(body)).status_code == 409
    assert server.wait_idle(30)
    assert len(repo.repository_dispatches) == 1


def test_a_reader_is_refused_with_a_reply_and_nothing_is_dispatched(
    endpoint: Callable[..., WebhookServer], github: tuple[GitHubStandIn, RepoState]
) -> None:
    _, repo = github
    server = endpoint()
    body = comment_payload("/improve", user="reader")
    assert post(server, body, headers(body)).status_code == 202
    assert server.wait_idle(30)
    assert repo.repository_dispatches == [] and repo.reactions == []
    (reply,) = repo.comments
    assert "write access" in reply["body"] and "`read`" in reply["body"]


def test_a_full_queue_answers_503_and_a_later_redelivery_is_taken(
    endpoint: Callable[..., WebhookServer], github: tuple[GitHubStandIn, RepoState]
) -> None:
    gh, repo = github
    release = threading.Event()

    def slow_permission(stand_in: GitHubStandIn, seen: Any, match: Any) -> Reply:
        release.wait(20)
        return Reply.json(200, {"permission": "write", "role_name": "write", "user": None})

    gh.route("GET", rf"/repos/{REPO}/collaborators/(?P<user>[^/]+)/permission", slow_permission)
    server = endpoint(queue_size=1, workers=1)
    bodies = [comment_payload("/improve", comment_id=n) for n in (1, 2, 3)]
    try:
        assert post(server, bodies[0], headers(bodies[0])).status_code == 202
        deadline = time.monotonic() + 20
        while not gh.requests and time.monotonic() < deadline:  # the worker holds the first
            time.sleep(0.05)
        assert gh.requests
        assert post(server, bodies[1], headers(bodies[1])).status_code == 202  # waits in line
        assert post(server, bodies[2], headers(bodies[2])).status_code == 503  # no room
    finally:
        release.set()
    assert server.wait_idle(30)
    assert post(server, bodies[2], headers(bodies[2])).status_code == 202  # not marked as seen
    assert server.wait_idle(30)
    dispatched = [d["client_payload"]["comment_id"] for d in repo.repository_dispatches]
    assert sorted(dispatched) == [1, 2, 3]


def test_ping_installation_and_other_events_are_answered_without_queueing(
    endpoint: Callable[..., WebhookServer], github: tuple[GitHubStandIn, RepoState]
) -> None:
    server = endpoint()
    for event, payload, status in (
        ("ping", {"zen": "Keep it logically awesome.", "hook_id": 1}, 200),
        (
            "installation",
            {
                "action": "created",
                "installation": {"id": INSTALLATION, "account": {"login": "octo-org"}},
                "repositories": [{"full_name": REPO}],
            },
            200,
        ),
        ("push", {"ref": "refs/heads/main"}, 200),
        ("issue_comment", {**json.loads(comment_payload("/improve")), "action": "edited"}, 200),
    ):
        body = json.dumps(payload).encode()
        assert post(server, body, headers(body, event=event)).status_code == status, event
    assert server.wait_idle(5)
    assert server.handled == 0 and github[0].requests == []


def test_an_app_installation_token_is_used_for_the_installation_that_sent_the_event(
    endpoint: Callable[..., WebhookServer], github: tuple[GitHubStandIn, RepoState]
) -> None:
    gh, repo = github
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    gh.add_app(4242, public.decode())
    server = endpoint(env={"SELFIMPROVE_APP_ID": "4242", "SELFIMPROVE_APP_PRIVATE_KEY": pem})
    body = comment_payload("/improve")
    assert post(server, body, headers(body)).status_code == 202
    assert server.wait_idle(30)
    assert gh.count("POST", f"/app/installations/{INSTALLATION}/access_tokens") == 1
    assert len(repo.repository_dispatches) == 1
    dispatch = next(r for r in gh.requests if r.path == f"/repos/{REPO}/dispatches")
    assert dispatch.headers["authorization"].split()[-1].startswith("ghs_installation_")


def test_the_command_refuses_to_start_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SELFIMPROVE_WEBHOOK_SECRET", raising=False)
    assert cli_main(["serve", "--port", "0"]) == 2
    assert "without a webhook secret" in capsys.readouterr().err
    monkeypatch.setenv("SELFIMPROVE_WEBHOOK_SECRET", "   ")
    assert cli_main(["serve", "--port", "0"]) == 2


def test_a_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve(ServeSettings(secret=SECRET, env={}), "127.0.0.1", port, print)
    finally:
        taken.close()


def test_a_delivery_that_failed_on_the_worker_can_be_redelivered(
    endpoint: Callable[..., WebhookServer], github: tuple[GitHubStandIn, RepoState]
) -> None:
    gh, repo = github
    server = endpoint()
    body = comment_payload("/improve")
    gh.quota.remaining = 0  # the permission check cannot be made: the handler gives up
    assert post(server, body, headers(body)).status_code == 202
    assert server.wait_idle(30)
    assert isinstance(server.log, io.StringIO)
    assert "failed: GitHubUnavailable" in server.log.getvalue()
    assert repo.repository_dispatches == []
    gh.quota.remaining = 5000
    assert post(server, body, headers(body)).status_code == 202  # GitHub's "Redeliver"
    assert server.wait_idle(30)
    assert len(repo.repository_dispatches) == 1


# -- replays across restarts, and the socket's limits -----------------------------------


@pytest.mark.parametrize("kept", ["on disk", "in memory"])
def test_a_replay_is_refused_even_after_a_restart(
    endpoint: Callable[..., WebhookServer],
    github: tuple[GitHubStandIn, RepoState],
    tmp_path: Path,
    kept: str,
) -> None:
    _, repo = github
    seen = tmp_path / "seen-deliveries" if kept == "on disk" else None
    first = endpoint(seen_file=seen)
    body = comment_payload("/improve")
    assert post(first, body, headers(body)).status_code == 202
    assert first.wait_idle(30)
    first.stop()
    second = endpoint(seen_file=seen)  # a restart: a new process would read the same file
    replayed = post(second, body, headers(body)).status_code
    assert second.wait_idle(30)
    if kept == "in memory":  # without the file the captured delivery runs a second time
        assert replayed == 202 and len(repo.repository_dispatches) == 2
        return
    assert replayed == 409
    renamed = headers(body) | {"X-GitHub-Delivery": "a-fresh-id"}  # the id is not signed
    assert post(second, body, renamed).status_code == 409
    other = comment_payload("/improve", comment_id=7)
    reused = headers(other) | {"X-GitHub-Delivery": headers(body)["X-GitHub-Delivery"]}
    assert post(second, other, reused).status_code == 409  # a reused id
    assert len(repo.repository_dispatches) == 1


def test_the_seen_deliveries_file_is_bounded_and_survives_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "seen"
    store = SeenDeliveries(path, limit=3)
    digests = [hashlib.sha256(bytes([n])).hexdigest() for n in range(8)]
    for n, digest in enumerate(digests):
        assert not store.seen(f"id-{n}", digest)
        store.add(f"id-{n}", digest)
    assert len(path.read_text().splitlines()) < 2 * 3  # rewritten, never growing past 2x
    with path.open("a") as handle:
        handle.write("id-torn 12ab")  # a crash in the middle of an append
    again = SeenDeliveries(path, limit=3)
    assert len(again) == 3
    assert [again.seen(f"id-{n}", digests[n]) for n in range(8)] == [False] * 5 + [True] * 3
    assert again.seen("another-id", digests[7]) and again.seen("id-7", "0" * 64)
    again.forget("id-7")
    assert "id-7" not in path.read_text()
    assert not SeenDeliveries(path, limit=3).seen("id-7", digests[7])


def _address(server: WebhookServer) -> tuple[str, int]:
    host, port = server.httpd.server_address[:2]
    return str(host), int(port)


def _health(address: tuple[str, int]) -> bytes:
    with socket.create_connection(address, timeout=5) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        return client.recv(4096)


@pytest.mark.parametrize("limit", [2, 16])
def test_connections_past_the_cap_are_answered_503(
    endpoint: Callable[..., WebhookServer], limit: int
) -> None:
    server = endpoint(max_connections=limit)
    address = _address(server)
    idle = [socket.create_connection(address, timeout=5) for _ in range(2)]  # send nothing
    try:
        answer = _health(address)
        if limit > 2:  # room to spare: the third connection is served as usual
            assert answer.startswith(b"HTTP/1.1 200")
            return
        assert answer.startswith(b"HTTP/1.1 503") and b"too many connections" in answer
    finally:
        for client in idle:
            client.close()
    deadline = time.monotonic() + 10
    while not _health(address).startswith(b"HTTP/1.1 200"):  # their slots come back
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize("read_timeout", [1.0, 30.0])
def test_a_client_trickling_its_request_is_cut_off(
    endpoint: Callable[..., WebhookServer], read_timeout: float
) -> None:
    """Slowloris: a header line every 0.2 s keeps every per-read timeout happy."""
    server = endpoint(read_timeout=read_timeout)
    with socket.create_connection(_address(server), timeout=5) as client:
        client.sendall(b"POST /webhook HTTP/1.1\r\nHost: test\r\n")
        began = time.monotonic()
        cut_after = None
        while cut_after is None and time.monotonic() - began < 4:
            client.settimeout(0.2)
            try:
                client.sendall(b"X-Slow: a\r\n")
                if client.recv(1024) == b"":
                    cut_after = time.monotonic() - began
            except TimeoutError:
                continue
            except OSError:
                cut_after = time.monotonic() - began
    if read_timeout > 4:  # a generous deadline: the trickle holds the connection throughout
        assert cut_after is None
        return
    assert cut_after is not None and cut_after < 3.5
    assert isinstance(server.log, io.StringIO)
    assert "cut off: the request took too long to send" in server.log.getvalue()
