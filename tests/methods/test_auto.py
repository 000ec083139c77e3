"""Auto: Thompson sampling over the ledger's record, test-driven favoured while evidence is thin."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from bot.bundle import ledger
from bot.core.candidate import Candidate, Target
from bot.core.evaluation import Evaluation, GateResult
from methods import auto
from tests.methods.support import MODULE, TARGET, run_cli_method, squares_project

METHODS = ("test-driven", "adversarial", "actor-critic")


def write_ledger(path: Path, outcomes: dict[str, tuple[int, int]]) -> None:
    """Record ``method -> (accepted attempts, rejected attempts)`` with the real ledger writer.

    Each attempt is its own run with two candidates, so an accepted attempt also holds a
    rejected candidate: acceptance must be counted per attempt, not per candidate.
    """
    for method, (accepted, rejected) in outcomes.items():
        for n in range(accepted + rejected):
            for rule, ok in (("a", False), ("b", n < accepted)):
                candidate = Candidate(
                    TARGET, f"diff {method} {n} {rule}", (MODULE,), method, "codemods", rule, rule
                )
                result = GateResult("syntax", ok, 0.0, "ok" if ok else "no")
                evaluation = Evaluation(candidate, (result,), 1)
                decision = "selected" if ok else "rejected"
                ledger.record((path,), f"run-{method}-{n}", "base", evaluation, decision)


def test_records_count_attempts_and_the_ledger_steers_the_choice(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, {"test-driven": (0, 12), "adversarial": (1, 11), "actor-critic": (11, 1)})
    known = auto.records(ledger.read(path), METHODS)
    assert known["actor-critic"] == auto.Record(successes=11, failures=1)
    assert known["test-driven"] == auto.Record(successes=0, failures=12)
    targets = [Target(MODULE, "pkg.stats", f"f{i}") for i in range(20)]
    chosen = [auto.choose(known, auto.seeded("base", t)).method for t in targets]
    assert chosen.count("actor-critic") >= 18


def test_test_driven_is_the_favourite_without_evidence_and_choices_are_reproducible() -> None:
    empty = auto.records([], METHODS)
    picks = [auto.choose(empty, random.Random(seed)).method for seed in range(600)]
    shares = {m: picks.count(m) for m in METHODS}
    assert shares["test-driven"] > max(shares["adversarial"], shares["actor-critic"]) + 60
    first = auto.choose(empty, auto.seeded("abc", TARGET))
    again = auto.choose(empty, auto.seeded("abc", TARGET))
    assert first == again and first.method in METHODS
    assert first.explain().startswith(f"auto chose {first.method} by Thompson sampling: ")


def test_a_torn_ledger_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, {"adversarial": (1, 0)})
    with path.open("a") as handle:
        handle.write('{"method": "adversar')  # a run killed mid-write
    assert len(ledger.read(path)) == 2


def test_cli_auto_runs_the_method_the_ledger_favours(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(squares_project("actor-critic-rounds = 1\n"))
    home = repo.parent / "home"
    home.mkdir()
    favour = {"test-driven": (0, 15), "adversarial": (0, 15), "actor-critic": (15, 0)}
    write_ledger(home / "ledger.jsonl", favour)
    report = run_cli_method(repo, "auto", home=home)
    [why] = [n for n in report["notes"] if "auto chose" in n]
    assert why.startswith("pkg.stats:squares: auto chose actor-critic by Thompson sampling")
    assert "actor-critic 15/15 accepted" in why and "test-driven 0/15 accepted" in why
    [only] = report["candidates"]
    assert only["method"] == "actor-critic" and only["provenance"]["round"] == "1"
    assert len(ledger.read(home / "ledger.jsonl")) == 2 * 45 + 1  # the home ledger learns
