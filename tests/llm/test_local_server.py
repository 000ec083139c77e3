"""A local model server as llama.cpp runs one: it serves one request at a time and goes on
working on a request whose client has gone. Against it, through the real ``openai`` client,
a reply that comes just after the timeout costs one timeout, not a pile of retries each
waiting behind the last, and the budget counts every request."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.llm.chain_run import Run, settings
from tests.llm.project import COUNT, FAST_COUNT, FILES, VOWEL
from tests.llm.standin import PIECES, Reply, StandIn

TIMEOUT = 1.0
LATE = Reply(FAST_COUNT, delay=TIMEOUT * 1.5, output_tokens=900)  # just after the timeout


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_COMPATIBLE_BASE_URL", "SELFIMPROVE_LLM"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(FILES)


def test_the_standin_finishes_an_abandoned_unstreamed_request_before_the_next() -> None:
    """The premise: without streaming, a client's timeout does not stop the server, and the
    next request waits until the abandoned one is done."""
    with StandIn(Reply("slow", delay=1.0), Reply("next")) as server:
        url = f"{server.openai_url}/chat/completions"
        with pytest.raises(httpx.TimeoutException):
            httpx.post(url, json={"model": "m", "messages": []}, timeout=0.2)
        began = time.monotonic()
        answer = httpx.post(url, json={"model": "m", "messages": []}, timeout=5)
        waited = time.monotonic() - began
    assert answer.json()["choices"][0]["message"]["content"] == "next"
    assert waited >= 0.6  # behind the abandoned request
    first, second = server.served
    assert first.ended - first.began >= 1.0 and second.began >= first.ended


def test_a_reply_just_after_the_timeout_costs_one_bounded_timeout_and_is_counted(
    repo: Path, tmp_path: Path
) -> None:
    with StandIn(LATE) as server:
        chain = settings("openai-compatible:local", server, timeout=TIMEOUT, retries=3)
        run = Run(repo, tmp_path / "home", chain)
        began = time.monotonic()
        for target in (COUNT, VOWEL, COUNT):
            assert {c.generator for c in run.propose(target)} <= {"codemods"}
        took = time.monotonic() - began
    # Not retried (a local server), and the link is left out after two failures in a row.
    assert len(server.requests) == 2
    assert took < 2 * (2 * TIMEOUT) + 2  # each request ends within two timeouts at most
    for served in server.served:  # the disconnect stopped the server before it finished
        assert not served.complete and served.pieces < PIECES
    assert server.served[1].began >= server.served[0].ended  # one at a time
    summary = run.chain.summary()
    assert (summary["calls"], summary["timeouts"], summary["failures"]) == (2, 2, 2)
    assert summary["retries"] == 0
    asked = [r.body["max_tokens"] for r in server.requests]
    assert summary["output_tokens"] == sum(asked)  # a timed-out reply may have been made whole
    failed = [note for note in run.said if "gave no answer" in note]
    assert len(failed) == 2
    assert all(note.endswith("1 timed out): no answer before the timeout") for note in failed)
    assert run.said[-1] == "openai-compatible:local failed 2 times in a row: not asked again"


def test_a_timeout_is_retried_on_a_local_server_only_when_asked(repo: Path, tmp_path: Path) -> None:
    with StandIn(LATE, Reply(FAST_COUNT)) as server:
        chain = settings(
            "openai-compatible:local", server, timeout=TIMEOUT, retries=1, retry_timeouts=True
        )
        run = Run(repo, tmp_path / "home", chain)
        began = time.monotonic()
        [candidate] = [c for c in run.propose(COUNT) if c.generator == "llm"]
        took = time.monotonic() - began
    assert len(server.requests) == 2 and took < 3 * TIMEOUT + 2
    assert not server.served[0].complete and server.served[1].complete
    summary = run.chain.summary()
    assert (summary["calls"], summary["timeouts"], summary["retries"]) == (2, 1, 1)
    assert "no answer before the timeout; retry 1 of 1 in" in run.said[0]
    assert candidate.provenance["cached"] == "false"
