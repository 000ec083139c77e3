"""Actor-critic: the critique reaches the actor, the reward climbs, the loop knows when to stop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.core.candidate import Candidate
from bot.core.evaluation import Evaluation, GateResult
from bot.core.generator import Attempt
from bot.core.method import MethodContext
from methods import critic
from tests.methods.support import (
    DEFAULT_TOP,
    FILES,
    MODULE,
    SLOW_TOP,
    TARGET,
    ScriptedGenerator,
    ledger_lines,
    request_for,
    run_cli_method,
    run_with,
    squares_project,
)

REVIEW = "The sort makes it quadratic; take the maximum in one pass."


class ReviewingGenerator(ScriptedGenerator):
    """A scripted actor that can also review, as a model chain does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reviewed: list[Attempt] = []

    def review(self, ctx: MethodContext, attempt: Attempt) -> str:
        self.reviewed.append(attempt)
        return REVIEW if len(self.reviewed) == 1 else ""


RENAMED_TOP = SLOW_TOP.replace("ranked", "kept")  # the same work: no proven speed-up
GATES = ("syntax", "style", "security", "types", "unit", "integration", "performance")


def _evaluation(passed: int, ratio: float) -> Evaluation:
    candidate = Candidate(TARGET, "diff", (MODULE,), "actor-critic", "test", "rule", "rule")
    results = [GateResult(g, True, 0.0, "ok") for g in GATES[:passed]]
    if passed < len(GATES):
        details = {"ratio": ratio, "ci_low": 0.9, "ci_high": 1.3, "p_value": 0.2}
        results.append(GateResult(GATES[passed], False, 0.0, "no", details))
    else:
        results[-1] = GateResult("performance", True, 0.0, "faster", {"ratio": ratio})
    return Evaluation(candidate, tuple(results), len(GATES))


def test_reward_grows_with_progress_through_the_gates_and_with_proven_gain() -> None:
    stopped_at_unit = _evaluation(4, 1.0)
    near_miss = _evaluation(6, 1.04)
    modest = _evaluation(7, 1.2)
    large = _evaluation(7, 2.0)
    rewards = [critic.reward(e) for e in (stopped_at_unit, near_miss, modest, large)]
    assert rewards == sorted(rewards) and len(set(rewards)) == 4
    assert rewards[1] == round(6 / 7, 4)  # an unproven ratio earns nothing
    assert rewards[3] == 2.0  # accepted: 1 for the gates, plus the gain
    words = critic.critique(near_miss, rewards[1], 0.5, 2)
    assert "stopped at the performance gate" in words
    assert "measured 1.04x (95% CI 0.90-1.30x, p=0.2)" in words


def test_the_actor_revises_from_the_critique_and_the_reward_improves(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(FILES)
    critiques: list[str] = []

    def revise(history: Sequence[Attempt]) -> tuple[str, str] | None:
        critiques.append(history[-1].critique)
        if "stopped at the performance gate" in history[-1].critique:
            return ("max-default", DEFAULT_TOP)
        return None

    generator = ReviewingGenerator([("renamed", RENAMED_TOP)], revise=revise)
    result = run_with(request_for(repo, "actor-critic", actor_critic_rounds=2), generator)

    assert [a["count"] for a in generator.asked] == [1, 1]
    first, second = result.evaluations
    assert first.stopped_by is not None and first.stopped_by.gate == "performance"
    assert critiques == [generator.asked[1]["history"][0].critique]
    assert "measured" in critiques[0] and "95% CI" in critiques[0]
    assert "hottest lines: line " in critiques[0]
    assert "line 9 `kept.sort()`" in critiques[0]  # the quadratic step is among the hottest
    # a model critic (here a scripted one) reviewed the proven attempt; its words join in
    reviewed = generator.reviewed[0]
    assert len(generator.reviewed) == 2  # every proven round is reviewed
    assert reviewed.evaluation is first and reviewed.critique in critiques[0]
    assert critiques[0].endswith("; a model's review: " + REVIEW)
    assert second.accepted and second.candidate.rule == "max-default"
    assert first.candidate.provenance["round"] == "1"
    assert second.candidate.provenance["round"] == "2"
    rewards = [float(e.candidate.provenance["reward"]) for e in (first, second)]
    assert rewards[0] == round(6 / 7, 4) and rewards[1] > 2 * rewards[0]
    assert second.candidate.provenance["trajectory"].startswith("0.857 -> ")
    assert [d.evaluation for d in result.delivered] == [second]

    assert result.bundle_dir is not None
    ledger = ledger_lines(result.bundle_dir / "ledger.jsonl")
    assert [e["provenance"]["round"] for e in ledger] == ["1", "2"]
    report = (result.bundle_dir / "report.md").read_text()
    assert f"reward by round for {TARGET.key}: 0.8571 -> " in report


def test_the_loop_stops_when_the_reward_stops_improving(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(FILES)
    unused_os = "import os\n" + DEFAULT_TOP  # style gate: a new unused-import finding
    unused_sys = "import sys\n" + DEFAULT_TOP
    generator = ScriptedGenerator([("unused-os", unused_os), ("unused-sys", unused_sys)])
    result = run_with(request_for(repo, "actor-critic", actor_critic_rounds=3), generator)

    assert len(generator.asked) == 2  # a third round was allowed but not needed
    assert [e.stopped_by.gate for e in result.evaluations if e.stopped_by] == ["style", "style"]
    assert [e.candidate.provenance["reward"] for e in result.evaluations] == ["0.1429"] * 2
    assert any("the reward stopped improving (0.143 -> 0.143)" in n for n in result.notes)
    assert not result.delivered


def test_cli_runs_actor_critic_with_the_codemods_as_actor(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(squares_project("actor-critic-rounds = 2\n"))
    report = run_cli_method(repo, "actor-critic")
    [only] = report["candidates"]  # the codemods have one rule for it: nothing new in round 2
    assert only["method"] == "actor-critic" and only["generator"] == "codemods"
    assert only["provenance"]["round"] == "1" and float(only["provenance"]["reward"]) > 0
    assert any("round 1: reward" in n for n in report["notes"])
    assert any("the actor has nothing new after round 1" in n for n in report["notes"])
