"""Two runs of ``selfimprove run --llm`` on one commit, as real subprocesses with the real
``openai`` client: the prompt depends only on the base commit and the target (the line
profile's hits are per pass, not counted until a deadline), so the second run looks up the
very prompt the first one sent, finds its reply in the cache, and asks the model nothing.

The second run sends nothing, so its prompt is compared by hash: each run's progress names
the prompt's sha256, and the bytes the first run sent hash to the same value.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from tests.llm.project import MALFORMED, new_project, selfimprove
from tests.llm.standin import Recorded, Reply, StandIn

PROMPT = re.compile(r"proposal of pkg\.hot:count_allowed.*\(prompt (\w+)")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two runs on one commit with one home (so one prompt cache)."""
    tmp = tmp_path_factory.mktemp("two-runs")
    project = new_project(tmp)
    seen: dict[str, list[Recorded]] = {}
    reports: dict[str, dict[str, Any]] = {}
    for name in ("first", "second"):
        with StandIn(Reply(MALFORMED)) as server:
            env = {"OPENAI_COMPATIBLE_BASE_URL": server.openai_url}
            chain = "openai-compatible:local,codemods"
            reports[name], _ = selfimprove(project, tmp / "home", tmp / name, chain, env)
        seen[name] = list(server.requests)
    return {"seen": seen, "reports": reports, "home": tmp / "home"}


def prompt_hashes(report: dict[str, Any]) -> list[str]:
    return [m[1] for note in report["notes"] if (m := PROMPT.search(note))]


def test_the_second_run_looks_up_the_very_prompt_the_first_sent(runs: dict[str, Any]) -> None:
    [sent] = runs["seen"]["first"]
    system, user = (message["content"] for message in sent.body["messages"])
    digest = hashlib.sha256(json.dumps([system, user]).encode()).hexdigest()
    [first], [second] = (prompt_hashes(runs["reports"][name]) for name in ("first", "second"))
    assert digest.startswith(first) and first == second
    [entry] = (runs["home"] / "cache" / "llm").glob("*.json")
    assert json.loads(entry.read_text())["prompt_sha256"] == digest
    assert "(its busiest lines in one pass over the recorded calls (line profiler))" in user
    assert " hits: if word in ALLOWED:" in user  # the counts are in the prompt, yet it is stable


def test_the_second_run_asks_the_model_nothing_and_counts_the_cached_reply(
    runs: dict[str, Any],
) -> None:
    assert runs["seen"]["second"] == []
    first, second = runs["reports"]["first"]["llm"], runs["reports"]["second"]["llm"]
    assert (first["calls"], first["cached_replies"]) == (1, 0)
    assert (second["calls"], second["cached_replies"], second["input_tokens"]) == (1, 1, 0)
    assert second["estimated_cost_usd"] == 0
    assert runs["reports"]["first"]["candidates"] == runs["reports"]["second"]["candidates"]
