"""``selfimprove serve``: the GitHub App's webhook endpoint.

Each delivery is answered within milliseconds. The request thread only proves the body
came from GitHub (HMAC-SHA256 over the exact bytes, compared in constant time, before
anything is parsed), refuses a delivery it has already accepted (a replay, remembered on
disk across restarts: :mod:`bot.github.replay`), and puts the event on a bounded queue;
a full queue answers 503 rather than letting work pile up. The socket side is bounded
too: at most ``max_connections`` at once (more are answered 503 and closed), and each
request must arrive whole within ``read_timeout`` seconds, however slowly its bytes
trickle in (a slowloris client is cut off, not waited on).
Worker threads then do the slow part with the App's installation token: the same
comment-command handler as the Action (permission check, 👀, replies), and a run
ordered there is handed to the repository's workflow as ``repository_dispatch``, so no
target code ever runs on the webhook host. An edit of the dashboard issue that ticks a
waiting change's box opens that pull request from its already pushed branch.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from bot.core.errors import UserError
from bot.github import dashboard, handoff
from bot.github.client import GitHubClient, GitHubUnavailable, IssueRef, RequestRefused
from bot.github.comments import finish, handle_comment
from bot.github.replay import DEFAULT_LIMIT, SeenDeliveries
from bot.github.webhook import Event, EventRejected, SignatureRejected, read_delivery

MAX_BODY = 25 * 1024 * 1024  # GitHub caps a delivery's payload at 25 MB
READ_TIMEOUT = 10.0  # seconds a client may take to send a whole request
MAX_CONNECTIONS = 64  # connections served at once; GitHub opens one per delivery
QUEUED_EVENTS = {"issue_comment": "created", "issues": "edited"}  # event -> action
INSTALLATION_EVENTS = ("installation", "installation_repositories")


@dataclass(frozen=True)
class ServeSettings:
    """How the endpoint is run; ``env`` holds the App's credentials for the workers."""

    secret: bytes
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    api_url: str | None = None
    queue_size: int = 32
    workers: int = 2
    allowed_bots: frozenset[str] = frozenset()
    seen_file: Path | None = None  # accepted deliveries, kept across restarts (None: memory)
    remembered: int = DEFAULT_LIMIT  # accepted deliveries remembered at most
    max_connections: int = MAX_CONNECTIONS
    read_timeout: float = READ_TIMEOUT


@dataclass(frozen=True)
class Job:
    """A verified event waiting for a worker."""

    event: Event


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to one delivery."""

    status: HTTPStatus
    text: str


class WebhookServer:
    """The listening socket, the queue of verified events, the workers that drain it."""

    def __init__(
        self,
        settings: ServeSettings,
        host: str = "127.0.0.1",
        port: int = 0,
        log: TextIO = sys.stderr,
    ) -> None:
        if not settings.secret:
            raise ValueError("a webhook server needs a secret")
        self.settings = settings
        self.log = log
        self.events: queue.Queue[Job | None] = queue.Queue(maxsize=settings.queue_size)
        self.handled = 0  # events the workers finished, for tests and the log
        self._seen = SeenDeliveries(settings.seen_file, settings.remembered)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._workers = [
            threading.Thread(target=self._work, name=f"webhook-worker-{i}", daemon=True)
            for i in range(max(settings.workers, 1))
        ]
        self.httpd = _BoundedServer((host, port), _handler_class(self), settings.max_connections)
        self._started = False

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread (tests, embedding); :meth:`serve_forever` blocks."""
        self._start_workers()
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def serve_forever(self) -> None:
        self._start_workers()
        self.httpd.serve_forever()

    def _start_workers(self) -> None:
        self._started = True
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        """Stop listening, let the workers finish what is queued, close the socket."""
        if not self._started:
            self.httpd.server_close()
            return
        self.httpd.shutdown()
        for _ in self._workers:
            self.events.put(None)
        for worker in self._workers:
            worker.join(timeout=30)
        self.httpd.server_close()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued event was handled (tests); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self.events.unfinished_tasks == 0, timeout)

    def receive(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """Decide what to answer a delivery; only a verified, new body reaches the queue."""
        try:
            event = read_delivery(self.settings.secret, headers, body)
        except SignatureRejected as exc:
            return Answer(HTTPStatus.UNAUTHORIZED, str(exc))
        except EventRejected as exc:
            return Answer(HTTPStatus.BAD_REQUEST, str(exc))
        if event.name == "ping":
            return Answer(HTTPStatus.OK, "pong")
        if event.name in INSTALLATION_EVENTS:
            self._note(installation_note(event))
            return Answer(HTTPStatus.OK, "noted")
        if event.name not in QUEUED_EVENTS or QUEUED_EVENTS[event.name] != event.action:
            return Answer(HTTPStatus.OK, f"ignored: {event.name} {event.action or ''}".strip())
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            if self._seen.seen(event.delivery_id, digest):
                return Answer(HTTPStatus.CONFLICT, "this delivery was already accepted")
            try:
                self._seen.add(event.delivery_id, digest)  # on disk before it is taken
            except OSError as exc:
                self._note(f"{event.delivery_id}: cannot record the delivery: {exc}")
                return Answer(HTTPStatus.SERVICE_UNAVAILABLE, "cannot record it: redeliver later")
            try:
                self.events.put_nowait(Job(event))
            except queue.Full:
                self._seen.forget(event.delivery_id)
                return Answer(HTTPStatus.SERVICE_UNAVAILABLE, "busy: redeliver later")
        return Answer(HTTPStatus.ACCEPTED, f"queued {event.delivery_id}")

    def _work(self) -> None:
        while (job := self.events.get()) is not None:
            try:
                self._note(f"{job.event.delivery_id}: {handle_event(job.event, self.settings)}")
            except Exception as exc:  # one bad delivery must not stop the worker
                with self._lock:  # not done: GitHub's "Redeliver" may try it again
                    self._seen.forget(job.event.delivery_id)
                self._note(f"{job.event.delivery_id}: failed: {exc!r}")
            finally:
                with self._idle:
                    self.handled += 1
                    self.events.task_done()
                    self._idle.notify_all()
        self.events.task_done()

    def _note(self, line: str) -> None:
        self.log.write(f"selfimprove serve: {line}\n")
        self.log.flush()


def handle_event(event: Event, settings: ServeSettings) -> str:
    """The slow part of a delivery, on a worker: what was done, as one line for the log."""
    repository = _full_name(event.payload)
    if repository is None:
        return "ignored: no repository in the payload"
    if event.name == "issues":
        return _dashboard_edited(event.payload, repository, settings)
    with installation_client(event.payload, repository, settings) as client:
        order = handle_comment(event.payload, client, allowed_bots=settings.allowed_bots)
        if order is None:
            return f"{repository}: no run ordered"
        try:
            client.repository_dispatch(handoff.EVENT_TYPE, handoff.to_payload(order))
        except (GitHubUnavailable, RequestRefused) as exc:
            reason = exc.reason if isinstance(exc, GitHubUnavailable) else exc.message
            finish(order, client, ok=False, text=f"The run could not be started: {reason}.")
            return f"{repository}: dispatch failed: {reason}"
    return f"{repository}: run dispatched for #{order.issue_number} by {order.user}"


def _dashboard_edited(payload: Mapping[str, Any], repository: str, settings: ServeSettings) -> str:
    """A box ticked on the dashboard: open exactly that pull request now (no project code)."""
    issue = payload.get("issue")
    labels = issue.get("labels") if isinstance(issue, dict) else None
    names = {label.get("name") for label in labels or () if isinstance(label, dict)}
    if not isinstance(issue, dict) or dashboard.LABEL not in names:
        return f"{repository}: not the dashboard"
    ref = IssueRef(
        number=int(issue["number"]),
        url=str(issue.get("html_url")),
        title=str(issue.get("title")),
        body=str(issue.get("body") or ""),
    )
    with installation_client(payload, repository, settings) as client:
        opened = dashboard.act_on_ticks(client, ref)
    return f"{repository}: dashboard: opened {', '.join(f'#{p.number}' for p in opened) or 'none'}"


def installation_client(
    payload: Mapping[str, Any], repository: str, settings: ServeSettings
) -> GitHubClient:
    """A client acting as the App's installation that sent the event."""
    env = dict(settings.env)
    installation = payload.get("installation")
    if isinstance(installation, dict) and isinstance(installation.get("id"), int):
        env["SELFIMPROVE_APP_INSTALLATION_ID"] = str(installation["id"])
    return GitHubClient.from_env(repository, env, api_url=settings.api_url)


def installation_note(event: Event) -> str:
    """One log line for an App (un)installation: who, and which repositories."""
    payload = event.payload
    installation = payload.get("installation")
    account = installation.get("account") if isinstance(installation, dict) else None
    login = account.get("login") if isinstance(account, dict) else "?"
    names: list[str] = []
    for key in ("repositories", "repositories_added", "repositories_removed"):
        listed = payload.get(key)
        if isinstance(listed, list):
            names += [str(r.get("full_name")) for r in listed if isinstance(r, dict)]
    shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
    return f"{event.name} {event.action or ''} for {login}: {shown or 'no repositories listed'}"


def _full_name(payload: Mapping[str, Any]) -> str | None:
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return name if isinstance(name, str) and "/" in name else None


def _handler_class(server: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Reads one delivery, answers it, never parses before the signature is checked."""

        protocol_version = "HTTP/1.1"
        timeout = server.settings.read_timeout  # per read; the deadline bounds the whole
        server_version = "selfimprove"
        deadline: threading.Timer | None = None

        def handle_one_request(self) -> None:
            """Read and answer one request; the connection is cut if it is not read in time."""
            self.deadline = threading.Timer(server.settings.read_timeout, self._cut)
            self.deadline.daemon = True
            self.deadline.start()
            try:
                super().handle_one_request()
            finally:
                self._read_in_time()

        def _cut(self) -> None:
            server._note(f"{self.address_string()} cut off: the request took too long to send")
            self.close_connection = True
            with contextlib.suppress(OSError):  # already closed by the client
                self.connection.shutdown(socket.SHUT_RDWR)

        def _read_in_time(self) -> None:
            if self.deadline is not None:
                self.deadline.cancel()

        def do_POST(self) -> None:
            length_text = self.headers.get("Content-Length")
            if length_text is None or not length_text.isdigit():
                self._reply(Answer(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required"))
                return
            length = int(length_text)
            if length > MAX_BODY:
                self._reply(Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the body is too large"))
                return
            body = self.rfile.read(length)
            self._read_in_time()
            if len(body) != length:
                self._reply(Answer(HTTPStatus.BAD_REQUEST, "the body ended early"))
                return
            headers = {key: value for key, value in self.headers.items()}
            self._reply(server.receive(headers, body))

        def do_GET(self) -> None:
            self._read_in_time()
            found = self.path.split("?")[0] in ("/healthz", "/")
            self._reply(
                Answer(HTTPStatus.OK, "ok") if found else Answer(HTTPStatus.NOT_FOUND, "not found")
            )

        def _reply(self, answer: Answer) -> None:
            data = (answer.text + "\n").encode("utf-8")
            if answer.status >= 400:
                self.close_connection = True
            with contextlib.suppress(OSError):  # the client left, or was cut off
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                if answer.status >= 400:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            server._note(f"{self.address_string()} {format % args}")

    return Handler


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, up to ``limit`` at once; one more is answered 503 and closed."""

    daemon_threads = True
    _TEXT = b"too many connections: try later\n"
    _BUSY = (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_TEXT), _TEXT)
    )

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], limit: int
    ) -> None:
        if limit < 1:
            raise ValueError("a webhook server needs room for at least one connection")
        self.slots = threading.BoundedSemaphore(limit)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                request.sendall(self._BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def serve(settings: ServeSettings, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Run the endpoint until interrupted (Ctrl-C or SIGTERM)."""
    try:
        server = WebhookServer(settings, host, port)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    on_ready(server.url)
    try:
        server.serve_forever()
    finally:
        server.stop()
