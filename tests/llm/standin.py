"""A stand-in model server on 127.0.0.1: OpenAI's ``/v1/chat/completions`` and Anthropic's
``/v1/messages`` shapes, scripted replies, every request recorded.

The real ``openai`` and ``anthropic`` clients talk to it over HTTP, so what is tested is the
wire format they send and read, not a mock of our own code.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a model's text (status 200) or an error status with headers."""

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


class StandIn:
    """Serves ``script`` in order (the last reply repeats) until closed."""

    def __init__(self, *script: Reply) -> None:
        self.script = list(script) or [Reply("")]
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = standin._next(Recorded(self.path, headers, body))
                if reply.delay:
                    time.sleep(reply.delay)
                if self.path.endswith("/chat/completions"):
                    payload = _openai(reply, body)
                elif self.path.endswith("/messages"):
                    payload = _anthropic(reply, body)
                else:
                    self.send_error(404)
                    return
                data = json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

        return Handler


def _openai(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    if reply.status != 200:
        return {"error": {"message": f"scripted {reply.status}", "type": "server_error"}}
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
    }


def _anthropic(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    if reply.status != 200:
        kind = "rate_limit_error" if reply.status == 429 else "api_error"
        return {"type": "error", "error": {"type": kind, "message": f"scripted {reply.status}"}}
    return {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    }
