"""A model-written candidate through all seven gates: ``selfimprove run --llm`` as a real
subprocess, the real ``openai`` client against a stand-in server (found through
``OPENAI_BASE_URL``). The prompt cache's re-run is shown in test_generator.py: a second run
here would double this file's time for the same code path."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.llm.project import FAST_COUNT, new_project, selfimprove
from tests.llm.standin import Reply, StandIn

GATES = ["syntax", "style", "security", "types", "unit", "integration", "performance"]
KEY = "sk-e2e-secret-key"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("llm-e2e")
    project = new_project(tmp)
    home = tmp / "home"
    with StandIn(Reply(FAST_COUNT, input_tokens=1500, output_tokens=90)) as server:
        env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.openai_url}
        first, printed = selfimprove(project, home, tmp / "out", "openai:gpt-test,codemods", env)
    assert KEY not in printed
    return {"first": first, "requests": list(server.requests), "home": home}


def test_the_model_candidate_passes_all_seven_gates(runs: dict[str, Any]) -> None:
    report = runs["first"]
    [candidate] = report["candidates"]
    assert candidate["accepted"], candidate["reason"]
    assert (candidate["generator"], candidate["rule"]) == ("llm", "llm-function")
    assert [g["gate"] for g in candidate["gates"]] == GATES
    assert all(g["passed"] for g in candidate["gates"])
    [accepted] = report["accepted"]
    assert accepted["timing"]["ci_low"] >= 1.05
    assert "allowed = set(ALLOWED)" in Path(accepted["patch"]).read_text()
    assert len(runs["requests"]) == 1
    assert runs["requests"][0].headers["authorization"] == f"Bearer {KEY}"


def test_the_prompt_shows_the_base_functions_busiest_lines(runs: dict[str, Any]) -> None:
    """From a real line trace of the recorded calls: the membership test runs most."""
    user = runs["requests"][0].body["messages"][1]["content"]
    label = "(its busiest lines in one pass over the recorded calls (line profiler))"
    section = user.split(f"{label}\n", 1)[1]
    first = section.splitlines()[0]
    assert first.startswith(("line 10: ", "line 9: ")), first  # `for word` / `if word in`
    assert "hits: " in first and "%" not in section.split("END DATA", 1)[0]


def test_the_ledger_and_metadata_record_provenance(runs: dict[str, Any]) -> None:
    report = runs["first"]
    [accepted] = report["accepted"]
    meta = json.loads(Path(accepted["metadata"]).read_text())
    ledger = [json.loads(line) for line in (runs["home"] / "ledger.jsonl").read_text().splitlines()]
    assert len(ledger) == 1  # one decision, one line
    for provenance in (meta["provenance"], ledger[0]["provenance"]):
        assert provenance["provider"] == "openai" and provenance["model"] == "gpt-test"
        assert provenance["tokens"] == "1590" and provenance["cached"] == "false"
        assert len(provenance["prompt_sha256"]) == 64
    assert report["llm"]["calls"] == 1 and report["llm"]["budget_stopped"] is None
    assert report["llm"]["chain"] == "openai:gpt-test -> codemods"


def test_api_keys_never_reach_target_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.core.sandbox import scrubbed_env

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    env = scrubbed_env()
    assert "OPENAI_API_KEY" not in env and "ANTHROPIC_API_KEY" not in env
    assert KEY not in os.linesep.join(env.values())
