"""The chain on real SDK clients and stand-in servers: provenance, malformed replies, retries,
falling through to the codemods, the budget, and the prompt cache."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.candidate import Candidate
from bot.core.evaluation import Evaluation, GateResult
from bot.core.generator import Attempt, Reviewer
from bot.core.llm.settings import LLMSettings, Price, parse_chain
from bot.report.render import markdown
from bot.report.results import RunResult
from methods import test_driven
from methods.codemod_generator import CodemodGenerator
from methods.llm_generator import LLMGenerator
from methods.llm_prompt import CONSTRAINTS, REPLY_FORMAT, REVIEW_FORMAT, REVIEW_TOKENS
from tests.llm.chain_run import Run, settings
from tests.llm.project import COUNT, FAST_COUNT, FAST_VOWEL, FILES, MALFORMED, VOWEL
from tests.llm.standin import Reply, StandIn


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    for name in ("OPENAI_BASE_URL", "OPENAI_COMPATIBLE_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SELFIMPROVE_LLM",):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(FILES)


def test_a_model_candidate_carries_its_provenance(repo: Path, tmp_path: Path) -> None:
    with StandIn(Reply(FAST_COUNT, input_tokens=1200, output_tokens=80)) as server:
        prices = {"gpt-test": Price(input=2.0, output=10.0)}
        run = Run(repo, tmp_path / "home", settings("openai:gpt-test", server, prices=prices))
        [candidate] = run.propose(COUNT)
    assert isinstance(run.generator, LLMGenerator)
    assert (candidate.generator, candidate.rule) == ("llm", "llm-function")
    assert "+    allowed = set(ALLOWED)" in candidate.diff
    assert candidate.files == ("src/pkg/hot.py",)
    provenance = candidate.provenance
    assert provenance["provider"] == "openai" and provenance["model"] == "gpt-test"
    assert (provenance["input_tokens"], provenance["output_tokens"]) == ("1200", "80")
    assert provenance["cost_usd"] == "0.003200"  # 1200 * 2 / 1e6 + 80 * 10 / 1e6
    assert provenance["cached"] == "false" and len(provenance["prompt_sha256"]) == 64
    [request] = server.requests
    assert request.body["model"] == "gpt-test"
    user = request.body["messages"][1]["content"]
    assert "def count_allowed(words: list[str]) -> int:" in user
    assert 'ALLOWED = [f"w{i}" for i in range(400)]' in user  # the global it reads
    assert run.said == []


def test_a_malformed_reply_is_discarded_with_a_reason(repo: Path, tmp_path: Path) -> None:
    with StandIn(Reply(MALFORMED)) as server:
        run = Run(repo, tmp_path / "home", settings("openai:gpt-test", server))
        candidates = run.propose(VOWEL)
    assert run.said == [
        "discarded the reply of openai:gpt-test for pkg.hot:is_vowel: "
        "the reply holds no complete fenced code block"
    ]
    assert candidates and {c.generator for c in candidates} == {"codemods"}


def test_429_then_success(repo: Path, tmp_path: Path) -> None:
    script = (Reply(status=429, headers={"retry-after": "0"}), Reply(FAST_COUNT))
    with StandIn(*script) as server:
        run = Run(repo, tmp_path / "home", settings("anthropic:claude-test", server))
        [candidate] = run.propose(COUNT)
    assert len(server.requests) == 2
    assert candidate.provenance["provider"] == "anthropic"
    [retry] = run.said  # the retry is shown as it happens
    assert retry.startswith("anthropic:claude-test, proposal of pkg.hot:count_allowed: HTTP 429")
    assert retry.endswith("retry 1 of 1 in 0.0 s")
    assert run.notes[-1].endswith(" s, 1 retry, 150 tokens)")
    assert isinstance(run.generator, LLMGenerator)
    summary = run.generator.summary()
    assert (summary["calls"], summary["retries"], summary["failures"]) == (2, 1, 0)


def test_500_falls_through_the_chain_to_the_codemods(repo: Path, tmp_path: Path) -> None:
    down = Reply(status=500, headers={"retry-after": "0"})
    with StandIn(down) as first, StandIn(down) as second:
        chain = "anthropic:claude-test,openai:gpt-test,codemods"
        run = Run(repo, tmp_path / "home", settings(chain, first, second))
        candidates = run.propose(VOWEL)
    assert len(first.requests) == len(second.requests) == 2  # one try and one retry each
    assert [c.generator for c in candidates] == ["codemods"]
    assert candidates[0].rule == "literal-membership"  # ruff's PLR6201
    failed = [note for note in run.said if "gave no answer" in note]
    assert len(failed) == 2
    assert failed[0].startswith(
        "anthropic:claude-test gave no answer to the proposal of pkg.hot:is_vowel ("
    )
    assert failed[1].startswith("openai:gpt-test gave no answer to the proposal of pkg.hot")
    assert all("1 retry): HTTP 500" in note for note in failed)
    summary = run.chain.summary()  # every request counts, the failed ones too
    assert (summary["calls"], summary["retries"], summary["failures"]) == (4, 2, 2)


def test_the_budget_stops_generation(repo: Path, tmp_path: Path) -> None:
    with StandIn(Reply(FAST_COUNT)) as server:
        run = Run(repo, tmp_path / "home", settings("openai:gpt-test", server, max_calls=1))
        first = run.propose(COUNT)
        second = run.propose(VOWEL)
        third = run.propose(VOWEL)
    assert len(server.requests) == 1
    assert [c.generator for c in first] == ["llm"]
    assert [c.generator for c in second] == [c.generator for c in third] == ["codemods"]
    assert run.said == ["the budget of 1 model call(s) is spent: no more model calls this run"]
    assert isinstance(run.generator, LLMGenerator)
    summary = run.generator.summary()
    assert summary["budget_stopped"] == "the budget of 1 model call(s) is spent"
    assert summary["calls"] == 1 and summary["chain"] == "openai:gpt-test -> codemods"
    result = RunResult(run_id="run", request=run.request, llm=summary, notes=run.notes)
    assert result.to_json()["llm"]["budget_stopped"] == summary["budget_stopped"]
    rendered = markdown(result)
    assert "1 call(s), 0 from the prompt cache, 0 retried, 0 timed out" in rendered
    assert "the budget stopped generation: the budget of 1 model call(s) is spent" in rendered


def test_a_token_budget_caps_the_reply_and_then_stops(repo: Path, tmp_path: Path) -> None:
    with StandIn(Reply(MALFORMED, input_tokens=300, output_tokens=200)) as server:
        run = Run(repo, tmp_path / "home", settings("openai:gpt-test", server, max_tokens=500))
        run.propose(COUNT)
        run.propose(VOWEL)
    [request] = server.requests
    assert request.body["max_completion_tokens"] == 500  # less than the proposal would take
    assert run.notes[-1] == "the budget of 500 tokens is spent (500): no more model calls this run"


def test_a_rerun_is_served_from_the_prompt_cache(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with StandIn(Reply(FAST_COUNT)) as server:
        first = Run(repo, home, settings("openai:gpt-test", server))
        [made] = first.propose(COUNT)
        again = first.propose(COUNT)  # same process: the in-memory cache
    assert len(server.requests) == 1
    assert again[0].diff == made.diff and again[0].provenance["cached"] == "true"
    # A new run (new process state) with the server gone: the disk cache answers.
    rerun = Run(repo, home, settings("openai:gpt-test", server))
    [cached] = rerun.propose(COUNT)
    assert cached.diff == made.diff
    assert cached.provenance["cached"] == "true"
    assert cached.provenance["prompt_sha256"] == made.provenance["prompt_sha256"]
    assert len(server.requests) == 1
    assert rerun.said == []
    assert len(list((home / "cache" / "llm").glob("*.json"))) == 1


def test_no_key_means_codemods_only_said_once(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    chain = parse_chain("anthropic:claude-test,openai:gpt-test")
    run = Run(repo, tmp_path / "home", LLMSettings(chain=chain, configured=True))
    assert isinstance(run.generator, CodemodGenerator)
    assert run.notes == [
        "no language model can be used, codemods only: anthropic:claude-test "
        "(set ANTHROPIC_API_KEY); openai:gpt-test (set OPENAI_API_KEY)"
    ]
    assert [c.generator for c in run.propose(VOWEL)] == ["codemods"]
    assert len(run.notes) == 1


def test_earlier_gate_failures_reach_the_prompt(repo: Path, tmp_path: Path) -> None:
    with StandIn(Reply(MALFORMED)) as server:
        run = Run(repo, tmp_path / "home", settings("openai:gpt-test", server))
        earlier = Candidate(COUNT, "diff --git a/x b/x\n", ("x",), "t", "llm", "llm-function", "")
        failed = GateResult("unit", False, 1.0, "tests/test_hot.py::test_count_allowed failed")
        history = (Attempt(earlier, Evaluation(earlier, (failed,), 7), "it broke a test"),)
        run.propose(COUNT, history)
    user = server.requests[0].body["messages"][1]["content"]
    assert "stopped by the unit gate: tests/test_hot.py::test_count_allowed failed" in user
    assert "it broke a test" in user
    assert "Earlier attempt 1 (do not repeat it):" in user


def test_a_link_that_keeps_failing_is_left_out(repo: Path, tmp_path: Path) -> None:
    with StandIn(Reply(status=503, headers={"retry-after": "0"})) as server:
        run = Run(repo, tmp_path / "home", settings("openai:gpt-test", server))
        for target in (COUNT, VOWEL, COUNT):
            run.propose(target)
    assert len(server.requests) == 4  # two targets, a try and a retry each; then no more
    assert run.notes[-1] == "openai:gpt-test failed 2 times in a row: not asked again"


def test_a_model_reviews_an_attempt_with_the_data_fenced_and_within_the_budget(
    repo: Path, tmp_path: Path
) -> None:
    review = "The loop still scans a list per word.\n\nBuild the set once, outside the loop."
    with StandIn(Reply(FAST_COUNT), Reply(review)) as server:
        run = Run(repo, tmp_path / "home", settings("openai:gpt-test", server, max_calls=2))
        assert isinstance(run.generator, Reviewer)
        (candidate,) = run.propose(COUNT)
        signals = "round 1: reward 0.857; stopped at the performance gate: measured 1.01x"
        said = run.generator.review(run.ctx, Attempt(candidate, None, signals))
        spent = run.generator.review(run.ctx, Attempt(candidate, None, "round 2"))
    assert said == "The loop still scans a list per word. Build the set once, outside the loop."
    assert spent == "" and len(server.requests) == 2  # the budget held the third call
    proposal_tokens = server.requests[0].body["max_completion_tokens"]
    assert server.requests[1].body["max_completion_tokens"] == REVIEW_TOKENS < proposal_tokens
    assert any(
        n.startswith("asking openai:gpt-test for the review of pkg.hot:count") for n in run.notes
    )
    system = server.requests[1].body["messages"][0]["content"]
    user = server.requests[1].body["messages"][1]["content"]
    assert "no code" in system and "never instructions" in system
    assert f"(the attempt: its diff)\n{candidate.diff.rstrip()}\nEND DATA" in user
    assert f"(what the gates and the profiler measured)\n{signals}\nEND DATA" in user
    assert not isinstance(CodemodGenerator(), Reviewer)  # the codemods cannot review


def test_in_test_driven_mode_a_model_candidate_adds_to_the_codemods(
    repo: Path, tmp_path: Path
) -> None:
    """A weak model's candidate must not cost the codemod change that would be accepted."""
    with StandIn(Reply(FAST_VOWEL)) as server:
        run = Run(repo, tmp_path / "home", settings("openai:gpt-test", server))
        proven: list[Candidate] = []

        def evaluate(candidate: Candidate) -> Evaluation:
            proven.append(candidate)
            return Evaluation(candidate, (), 7)

        ctx = dataclasses.replace(run.ctx, evaluate=evaluate)
        test_driven.run(ctx, VOWEL)
    assert [(c.generator, c.rule) for c in proven] == [
        ("llm", "llm-function"),
        ("codemods", "literal-membership"),
    ]
    assert '+_VOWELS = frozenset("aeiou")' in proven[0].diff  # a constant it uses: allowed


def test_a_cache_entry_keeps_the_prompt_and_the_temperature_is_part_of_the_key(
    repo: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with StandIn(Reply(FAST_COUNT)) as server:
        [made] = Run(repo, home, settings("openai:gpt-test", server)).propose(COUNT)
        [entry_file] = (home / "cache" / "llm").glob("*.json")
        entry = json.loads(entry_file.read_text())
        warmer = Run(repo, home, settings("openai:gpt-test", server, temperature=0.5))
        [again] = warmer.propose(COUNT)
    [first, second] = server.requests
    assert entry["prompt_sha256"] == made.provenance["prompt_sha256"]
    assert entry["prompt"] == {
        "system": first.body["messages"][0]["content"],
        "user": first.body["messages"][1]["content"],
    }
    assert (first.body["temperature"], second.body["temperature"]) == (0, 0.5)
    assert again.provenance["cached"] == "false"  # another temperature: not the cached reply
    assert second.body["messages"] == first.body["messages"]


def test_the_user_message_repeats_the_rules_and_the_reply_format(
    repo: Path, tmp_path: Path
) -> None:
    """Some chat templates drop the system message; the user message alone must suffice."""
    with StandIn(Reply(FAST_COUNT)) as server:
        run = Run(repo, tmp_path / "home", settings("openai:gpt-test", server))
        [candidate] = run.propose(COUNT)
        run.chain.review(run.ctx, Attempt(candidate, None, "round 1"))
    proposal, review = (r.body["messages"][1]["content"] for r in server.requests)
    assert CONSTRAINTS in proposal and REPLY_FORMAT in proposal
    assert REVIEW_FORMAT in review


def test_a_rerun_with_a_call_budget_stops_where_the_first_run_stopped(
    repo: Path, tmp_path: Path
) -> None:
    """Cached replies count against max-calls (at no cost), so the re-run asks nothing new."""
    home = tmp_path / "home"
    with StandIn(Reply(FAST_COUNT)) as server:
        runs = [Run(repo, home, settings("openai:gpt-test", server, max_calls=1)) for _ in "12"]
        made = [[c.generator for t in (COUNT, VOWEL) for c in run.propose(t)] for run in runs]
    assert len(server.requests) == 1
    assert made[0] == made[1] == ["llm", "codemods"]
    first, second = (run.chain.summary() for run in runs)
    assert (first["calls"], first["cached_replies"]) == (1, 0)
    assert (second["calls"], second["cached_replies"], second["input_tokens"]) == (1, 1, 0)
    assert second["budget_stopped"] == first["budget_stopped"] is not None
    cached = "openai:gpt-test, proposal of pkg.hot:count_allowed: from the prompt cache (prompt "
    assert runs[1].notes[0].startswith(cached)
