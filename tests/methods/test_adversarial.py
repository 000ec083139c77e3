"""Adversarial: edge cases catch what the suite and the recorded calls miss; a tournament picks.

The buggy candidate (``max(values)``) passes the project's suite and reproduces every
recorded call, yet raises on the empty list where the base returns None: the attack must
kill it, naming that input. Correct candidates survive and race on the performance gate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Flags, build_request
from bot.core.candidate import Candidate
from bot.core.diffs import make_diff, new_file_diff
from bot.core.errors import UserError
from bot.core.testrun import run_suite
from bot.core.worktree import Worktrees, apply_diff
from methods import attack, cross_tests
from tests.conftest import GateBench, commit_files, make_request
from tests.methods.support import (
    BUGGY_TOP,
    DEFAULT_TOP,
    FILES,
    GUARDED_TOP,
    MODULE,
    QUICK,
    SLOW_TOP,
    TARGET,
    ScriptedGenerator,
    gates_of,
    request_for,
    run_cli_method,
    run_with,
    squares_project,
)
from validators import perftiming


def test_edge_cases_catch_a_candidate_the_suite_and_the_recordings_pass(
    gate_bench: Callable[..., GateBench], tmp_path: Path
) -> None:
    bench = gate_bench(FILES, capture=(TARGET,), thresholds=QUICK)
    baseline = bench.baseline
    assert baseline.capture_file is not None and baseline.captured_calls[TARGET.key] > 0
    base_project = bench.request.project_path(baseline.root)
    cases = attack.derive(
        bench.request,
        base_project,
        baseline.capture_file,
        TARGET.key,
        baseline.import_roots,
        tmp_path,
    )
    assert cases.count > 10 and not cases.errors

    buggy = bench.context({MODULE: BUGGY_TOP}, TARGET)
    suite = run_suite(bench.request, buggy.candidate_root)
    assert suite.outcomes and set(suite.outcomes.values()) == {"passed"}
    with perftiming.pair(buggy, baseline.capture_file) as (_, candidate):
        replayed = candidate.check([TARGET.key], 1e-9, 0.0)[TARGET.key]
    assert replayed["ok"] == baseline.captured_calls[TARGET.key]  # the recordings miss it

    breach = attack.check(bench.request, buggy.candidate_project, cases, baseline.import_roots)
    assert breach is not None
    assert breach.label.startswith("values = [] (an empty list")
    assert "base returned None" in breach.reason and "ValueError" in breach.reason

    fixed = bench.context({MODULE: DEFAULT_TOP}, TARGET)
    assert (
        attack.check(bench.request, fixed.candidate_project, cases, baseline.import_roots) is None
    )


def test_exception_messages_may_differ_but_not_their_type(
    gate_bench: Callable[..., GateBench], tmp_path: Path
) -> None:
    base = FILES[MODULE] + "\n\ndef first(values):\n    return values[0]\n"
    files = {
        **FILES,
        MODULE: base,
        "tests/test_first.py": (
            "from pkg.stats import first\n\n\ndef test_first():\n    assert first([3, 4]) == 3\n"
        ),
    }
    target = TARGET.__class__(file=MODULE, module="pkg.stats", qualname="first")
    bench = gate_bench(files, capture=(target,), thresholds=QUICK)
    assert bench.baseline.capture_file is not None
    cases = attack.derive(
        bench.request,
        bench.request.project_path(bench.baseline.root),
        bench.baseline.capture_file,
        target.key,
        bench.baseline.import_roots,
        tmp_path,
    )
    roots = bench.baseline.import_roots
    reworded = base.replace(
        "return values[0]",
        "if not values:\n        raise IndexError('nothing there')\n    return values[0]",
    )
    same_type = bench.context({MODULE: reworded}, target)
    assert attack.check(bench.request, same_type.candidate_project, cases, roots) is None
    other_type = base.replace(
        "return values[0]",
        "if not values:\n        raise LookupError('nothing there')\n    return values[0]",
    )
    changed = bench.context({MODULE: other_type}, target)
    breach = attack.check(bench.request, changed.candidate_project, cases, roots)
    assert breach is not None and "candidate raised builtins.LookupError" in breach.reason


def test_a_place_inside_the_checkout_is_the_same_answer_in_every_worktree(
    gate_bench: Callable[..., GateBench], tmp_path: Path
) -> None:
    """The edge cases are recorded in the base's tree and replayed in the candidate's."""
    base = FILES[MODULE] + (
        "\n\ndef located(name):\n"
        "    import os\n\n"
        "    return os.path.join(os.path.dirname(__file__), name)\n"
    )
    files = {
        **FILES,
        MODULE: base,
        "tests/test_located.py": (
            "from pkg.stats import located\n\n\n"
            "def test_located():\n    assert located('a.txt').endswith('a.txt')\n"
        ),
    }
    target = TARGET.__class__(file=MODULE, module="pkg.stats", qualname="located")
    bench = gate_bench(files, capture=(target,), thresholds=QUICK)
    assert bench.baseline.capture_file is not None
    roots = bench.baseline.import_roots
    cases = attack.derive(
        bench.request,
        bench.request.project_path(bench.baseline.root),
        bench.baseline.capture_file,
        target.key,
        roots,
        tmp_path,
    )
    assert cases.count > 0
    same = bench.context({MODULE: base + "# the same function\n"}, target)
    assert attack.check(bench.request, same.candidate_project, cases, roots) is None
    moved = bench.context(
        {MODULE: base.replace("(__file__)", "(os.path.dirname(__file__))")}, target
    )
    breach = attack.check(bench.request, moved.candidate_project, cases, roots)
    assert breach is not None and breach.reason.startswith("result: ")


def test_attack_kills_the_buggy_entrant_and_the_best_survivor_wins(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(FILES)
    generator = ScriptedGenerator(
        [("buggy", BUGGY_TOP), ("default", DEFAULT_TOP), ("guarded", GUARDED_TOP)]
    )
    result = run_with(request_for(repo, "adversarial", adversarial_candidates=3), generator)

    assert generator.asked[0]["count"] == 3 and generator.asked[0]["method"] == "adversarial"
    buggy = gates_of(result, "buggy")
    assert list(buggy) == ["adversarial"]
    passed, reason = buggy["adversarial"]
    assert not passed and "values = []" in reason and "ValueError" in reason

    finalists = [e for e in result.evaluations if e.candidate.rule in ("default", "guarded")]
    for evaluation in finalists:
        gates = [r.gate for r in evaluation.results]
        assert gates[0] == "adversarial" and evaluation.results[0].passed
        assert gates[1:8] == [
            "syntax", "style", "security", "types", "unit", "integration", "performance"
        ]  # fmt: skip
    [winner] = result.accepted
    [loser] = [e for e in finalists if e is not winner]
    assert (
        winner.results[-1].gate == "tournament"
        and "won the tournament" in winner.results[-1].reason
    )
    assert winner.speedup >= loser.speedup > 1.0
    assert loser.stopped_by is not None and loser.stopped_by.gate == "tournament"
    assert loser.stopped_by.reason.startswith(f"lost the tournament to {winner.candidate.rule}")
    assert [d.evaluation for d in result.delivered] == [winner]

    assert result.bundle_dir is not None
    ledger = [
        json.loads(line) for line in (result.bundle_dir / "ledger.jsonl").read_text().splitlines()
    ]
    by_rule = {entry["rule"]: entry for entry in ledger}
    assert by_rule["buggy"]["stopped_by"] == "adversarial"
    assert by_rule[loser.candidate.rule]["stopped_by"] == "tournament"
    assert by_rule[winner.candidate.rule]["decision"] == "selected"
    report = (result.bundle_dir / "report.md").read_text()
    assert "stopped at adversarial" in report and "lost the tournament" in report


def test_cli_runs_the_adversarial_method_on_codemod_entrants(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(squares_project("adversarial-candidates = 2\n"))
    report = run_cli_method(repo, "adversarial")
    [entrant] = report["candidates"]  # one codemod rule applies to squares
    assert entrant["method"] == "adversarial" and entrant["generator"] == "codemods"
    assert entrant["gates"][0]["gate"] == "adversarial" and entrant["gates"][0]["passed"]
    assert "edge-case input(s)" in entrant["gates"][0]["reason"]
    assert any("1 of 1 candidate(s) survived the attack" in n for n in report["notes"])


def test_an_entrants_tests_that_pass_on_the_base_are_run_against_the_others(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(FILES)
    request = make_request(repo)
    tests = (
        "from pkg.stats import top\n\n\n"
        "def test_one_item():\n    assert top([5]) == 5\n\n\n"
        "def test_new_behaviour():\n    assert top([]) == 0\n"  # fails on the base: dropped
    )
    careful = Candidate(
        TARGET,
        make_diff(MODULE, SLOW_TOP, DEFAULT_TOP) + new_file_diff("tests/test_top_more.py", tests),
        (MODULE, "tests/test_top_more.py"),
        "adversarial", "scripted", "careful", "careful",
    )  # fmt: skip
    lone_bug = SLOW_TOP.replace("if ranked else None", "if len(ranked) > 1 else None")
    sloppy = Candidate(
        TARGET, make_diff(MODULE, SLOW_TOP, lone_bug), (MODULE,),
        "adversarial", "scripted", "sloppy", "sloppy",
    )  # fmt: skip
    pins = cross_tests.collect(request, [careful, sloppy])
    assert pins.tests_from(careful) == ("tests/test_top_more.py::test_one_item",)
    assert pins.tests_from(sloppy) == ()

    with Worktrees(repo, request.home, "cross") as trees:
        roots = {}
        for candidate in (careful, sloppy):
            roots[candidate.rule] = trees.add(candidate.rule, request.base_commit)
            apply_diff(roots[candidate.rule], candidate.diff)
        why = cross_tests.run_against(request, pins, sloppy, roots["sloppy"])
        assert why is not None
        assert why.startswith("fails test tests/test_top_more.py::test_one_item")
        assert "written by entrant careful" in why
        assert cross_tests.run_against(request, pins, careful, roots["careful"]) is None


def test_method_knobs_come_from_the_project_config(make_repo: Callable[..., Path]) -> None:
    knobs = "[tool.selfimprove]\nadversarial-candidates = 6\nactor-critic-rounds = 5\n"
    repo = make_repo({**FILES, "pyproject.toml": knobs})
    request = build_request(Flags(path=str(repo), method="adversarial"))
    assert (request.adversarial_candidates, request.actor_critic_rounds) == (6, 5)
    assert request.method == "adversarial"
    commit_files(repo, {"pyproject.toml": "[tool.selfimprove]\nadversarial-candidates = 0\n"})
    with pytest.raises(UserError, match=r"'adversarial-candidates' in .* at least 1"):
        build_request(Flags(path=str(repo)))
