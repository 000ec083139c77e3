"""A stand-in model server on 127.0.0.1: OpenAI's ``/v1/chat/completions`` and Anthropic's
``/v1/messages`` shapes, scripted replies, every request recorded.

The real ``openai`` and ``anthropic`` clients talk to it over HTTP, so what is tested is the
wire format they send and read, not a mock of our own code. Like a local model server
(llama.cpp's), it serves one request at a time: the next waits until the one before is done,
and it keeps working on a request whose client has gone. A streamed reply is written piece
by piece over the reply's ``delay``, so the server notices a disconnect at its next write
and stops there; an unstreamed one is written only when all of it is made.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

PIECES = 10  # a streamed reply is written in this many pieces, spread over its delay


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a model's text (status 200) or an error status with headers.

    ``delay`` is how long the reply takes to make, as a model generating it would.
    """

    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    input_tokens: int = 100
    output_tokens: int = 50


@dataclass(frozen=True)
class Recorded:
    """A request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(frozen=True)
class Served:
    """How the server dealt with one request: when it began and ended working on it, how
    many pieces of a streamed reply it made, and whether the whole reply was written
    (``False``: the client left, seen at a write)."""

    began: float
    ended: float
    complete: bool
    pieces: int = 0


class StandIn:
    """Serves ``script`` in order (the last reply repeats), one request at a time, until closed."""

    def __init__(self, *script: Reply) -> None:
        self.script = list(script) or [Reply("")]
        self.requests: list[Recorded] = []
        self.served: list[Served] = []
        self._lock = threading.Lock()
        self._server = HTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                began = time.monotonic()
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = standin._next(Recorded(self.path, headers, body))
                if self.path.endswith("/chat/completions"):
                    events = _openai_events(reply, body)
                elif self.path.endswith("/messages"):
                    events = _anthropic_events(reply, body)
                else:
                    self.send_error(404)
                    return
                made = [0]
                if reply.status != 200 or not body.get("stream"):
                    complete = self._whole(reply, events)
                else:
                    complete = self._streamed(reply, events, made)
                with standin._lock:
                    standin.served.append(Served(began, time.monotonic(), complete, made[0]))

            def _whole(self, reply: Reply, events: list[tuple[str, dict[str, Any]]]) -> bool:
                """Make all of the reply (whether or not anyone still waits), then send it."""
                time.sleep(reply.delay)
                payload = _whole_body(reply, events, self.path)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return False
                return True

            def _streamed(
                self, reply: Reply, events: list[tuple[str, dict[str, Any]]], made: list[int]
            ) -> bool:
                """Server-sent events, each piece written as it is made; stop when the
                client is gone (a write fails), as a model server does."""
                try:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    self.wfile.flush()
                    for name, data in events:
                        if name == "piece":
                            time.sleep(reply.delay / PIECES)
                            made[0] += 1
                        line = json.dumps(data)
                        kind = data.get("type") if "/messages" in self.path else None
                        frame = (f"event: {kind}\n" if kind else "") + f"data: {line}\n\n"
                        self.wfile.write(frame.encode())
                        self.wfile.flush()
                    if "/chat/completions" in self.path:
                        self.wfile.write(b"data: [DONE]\n\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return False
                return True

        return Handler


def _pieces(text: str) -> list[str]:
    size = max(1, -(-len(text) // PIECES))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _openai_events(reply: Reply, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The chunks of a streamed chat completion, ``piece`` marking those that take time."""
    head = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 0}
    head["model"] = body.get("model", "")

    def chunk(delta: dict[str, str], finish: str | None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events = [("head", chunk({"role": "assistant", "content": ""}, None))]
    events += [("piece", chunk({"content": p}, None)) for p in _pieces(reply.text)]
    events.append(("end", chunk({}, "stop")))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(("end", {**head, "choices": [], "usage": _openai_usage(reply)}))
    return events


def _openai_usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _anthropic_events(reply: Reply, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events of a streamed message, ``piece`` marking those that take time."""
    message = {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("head", {"type": "message_start", "message": message}),
        (
            "head",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    for piece in _pieces(reply.text):
        delta = {"type": "text_delta", "text": piece}
        events.append(("piece", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events += [
        ("end", {"type": "content_block_stop", "index": 0}),
        (
            "end",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": reply.output_tokens},
            },
        ),
        ("end", {"type": "message_stop"}),
    ]
    return events


def _whole_body(
    reply: Reply, events: list[tuple[str, dict[str, Any]]], path: str
) -> dict[str, Any]:
    """An unstreamed answer: the whole reply, or the error the status stands for."""
    if path.endswith("/chat/completions"):
        if reply.status != 200:
            return {"error": {"message": f"scripted {reply.status}", "type": "server_error"}}
        return {
            "id": "chatcmpl-standin",
            "object": "chat.completion",
            "created": 0,
            "model": events[0][1]["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": "stop",
                }
            ],
            "usage": _openai_usage(reply),
        }
    if reply.status != 200:
        kind = "rate_limit_error" if reply.status == 429 else "api_error"
        return {"type": "error", "error": {"type": kind, "message": f"scripted {reply.status}"}}
    message: dict[str, Any] = dict(events[0][1]["message"])
    message["content"] = [{"type": "text", "text": reply.text}]
    message["stop_reason"] = "end_turn"
    message["usage"] = {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}
    return message
