"""Two identical runs of the example with a model: does the second ask the model anything?

    python benchmarks/llm_two_runs.py [--base-url URL --model NAME] [--max-targets N]

Runs ``selfimprove run`` (test-driven, ``openai-compatible:<model>,codemods``) twice on one
commit of the example, with one ``SELFIMPROVE_HOME`` (so one prompt cache). The model is
reached through a counting proxy on 127.0.0.1 that forwards to ``--base-url`` (a local
OpenAI-compatible server, such as llama-cpp-python's) and passes a client's disconnect on
to it; without ``--base-url`` the test suite's stand-in answers. Prints, per run: requests
the proxy saw (and how many the client abandoned), what the budget counted (calls, cached
replies, timeouts, retries), and whether the second run looked up the same prompts. Targets
are chosen by measured time, so two runs may choose different ones (``--target`` pins
them); a target both runs chose must get the same prompt, and any that did not is shown
with what differs.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run_example import make_monorepo, table  # noqa: E402
from bot.config import Flags, build_request  # noqa: E402
from bot.flow.progress import Progress  # noqa: E402
from bot.flow.run import run  # noqa: E402
from tests.llm.standin import Reply, StandIn  # noqa: E402

PROMPT = re.compile(r"^note: (asking .*|.*: from the prompt cache )\(prompt (\w+)")
FORWARDED = ("content-type", "content-encoding")


class CountingProxy:
    """Forwards POSTs to ``upstream`` as they stream, counting them; a client that leaves
    early closes the upstream request too (counted as abandoned)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests = 0
        self.abandoned = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with proxy._lock:
                    proxy.requests += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                path = self.path.removeprefix("/v1")
                url = f"{proxy.upstream}{path}"
                with httpx.stream("POST", url, content=body, headers=headers, timeout=None) as up:
                    try:
                        self.send_response(up.status_code)
                        for name in FORWARDED:
                            if name in up.headers:
                                self.send_header(name, up.headers[name])
                        self.end_headers()
                        for chunk in up.iter_raw():
                            self.wfile.write(chunk)
                            self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        with proxy._lock:
                            proxy.abandoned += 1

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def upstream(base_url: str | None) -> Iterator[str]:
    """The server to forward to: the given one, or the stand-in with a fixed reply."""
    if base_url:
        yield base_url
        return
    with StandIn(Reply("Use a set.", delay=0.05)) as server:
        yield server.openai_url


def one_run(project: Path, out: Path, chain: str, max_targets: int) -> dict[str, Any]:
    request = build_request(
        Flags(path=str(project), output_dir=str(out), llm=chain, max_targets=max_targets)
    )
    progress = Progress()
    began = time.perf_counter()
    result = run(request, progress)
    prompts = sorted(m[2] for line in progress.lines if (m := PROMPT.search(line)))
    targets = [t.target.key for t in result.targets]
    return {
        "seconds": time.perf_counter() - began,
        "llm": result.llm,
        "prompts": prompts,
        "targets": targets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a local OpenAI-compatible server, e.g. .../v1")
    parser.add_argument("--model", default="local")
    parser.add_argument("--max-targets", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, upstream(args.base_url) as target:
        tmp = Path(scratch)
        project = make_monorepo(tmp)
        os.environ["SELFIMPROVE_HOME"] = str(tmp / "home")
        rows: list[tuple[str, str]] = []
        seen: list[list[str]] = []
        targets: list[list[str]] = []
        for name in ("first run", "second run"):
            with CountingProxy(target) as proxy:
                os.environ["OPENAI_COMPATIBLE_BASE_URL"] = proxy.url
                done = one_run(
                    project,
                    tmp / name,
                    f"openai-compatible:{args.model},codemods",
                    args.max_targets,
                )
            llm = done["llm"] or {}
            seen.append(done["prompts"])
            targets.append(done["targets"])
            rows += [
                (name, f"{done['seconds']:.1f} s"),
                ("  targets (the profile's choice)", ", ".join(done["targets"])),
                ("  requests the proxy saw", f"{proxy.requests} ({proxy.abandoned} abandoned)"),
                ("  budget: calls", str(llm.get("calls"))),
                ("  budget: from the prompt cache", str(llm.get("cached_replies"))),
                ("  budget: timeouts, retries", f"{llm.get('timeouts')}, {llm.get('retries')}"),
            ]
        both = sorted(set(targets[0]) & set(targets[1]))
        differing = misses(tmp / "home" / "cache" / "llm")
        rows += [
            ("same prompts in both runs", str(seen[0] == seen[1] and bool(seen[0]))),
            ("targets both runs chose", str(len(both))),
            ("targets asked with two different prompts", str(len(differing))),
        ]
        where = args.base_url or "the test stand-in"
        table(f"Two runs of examples/textstats with openai-compatible:{args.model} ({where})", rows)
        for first_line, diff in differing.items():
            print(f"\nprompts that differ: {first_line}\n{diff}")


def misses(folder: Path) -> dict[str, str]:
    """For each target asked with two different prompts, what differs (read from the cache
    entries, which keep their prompts), by the prompt's first line."""
    by_first_line: dict[str, list[str]] = {}
    for entry in sorted(folder.glob("*.json")):
        user = json.loads(entry.read_text())["prompt"]["user"]
        by_first_line.setdefault(user.splitlines()[0], []).append(user)
    return {
        first_line: "\n".join(
            difflib.unified_diff(prompts[0].splitlines(), prompts[1].splitlines(), lineterm="")
        )
        for first_line, prompts in by_first_line.items()
        if len(prompts) > 1
    }


if __name__ == "__main__":
    main()
