"""Gates 5 and 6 on real repositories: the suite and the import check, run for real."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.request import Limits
from bot.flow.progress import Progress
from bot.flow.session import Session
from tests.conftest import GateBench
from validators import integration, types, unit
from validators.context import GateContext

PYPROJECT = "[tool.pytest.ini_options]\npythonpath = ['src']\n"
MODULE = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n"
TESTS = (
    "from pkg.mod import clamp\n\n"
    "def test_inside():\n    assert clamp(5, 0, 10) == 5\n\n"
    "def test_below():\n    assert clamp(-3, 0, 10) == 0\n"
)
FILES = {
    "proj/pyproject.toml": PYPROJECT,
    "proj/src/pkg/__init__.py": "",
    "proj/src/pkg/mod.py": MODULE,
    "proj/tests/test_mod.py": TESTS,
}
TARGET = Target(file="src/pkg/mod.py", module="pkg.mod", qualname="clamp")


def test_unit_passes_an_equivalent_candidate(gate_bench: Callable[..., GateBench]) -> None:
    bench = gate_bench(FILES, project="proj", suite=True)
    assert len(bench.baseline.passed_tests) == 2
    ctx = bench.context(
        {"src/pkg/mod.py": "def clamp(x, lo, hi):\n    return min(max(x, lo), hi)\n"}
    )
    verdict = unit.check(ctx)
    assert verdict.passed, verdict.reason
    assert "2 tests" in verdict.reason


def test_unit_rejects_a_behaviour_change_the_tests_catch(
    gate_bench: Callable[..., GateBench],
) -> None:
    bench = gate_bench(FILES, project="proj", suite=True)
    ctx = bench.context({"src/pkg/mod.py": "def clamp(x, lo, hi):\n    return min(x, hi)\n"})
    verdict = unit.check(ctx)
    assert not verdict.passed
    assert "test_below" in verdict.reason
    assert verdict.details["broken"] == ["tests/test_mod.py::test_below"]


def test_unit_tells_flaky_from_broken(gate_bench: Callable[..., GateBench], tmp_path: Path) -> None:
    bench = gate_bench(FILES, project="proj", suite=True, sandbox=False)  # the flag is on the host
    flag = tmp_path / "failed-once"
    flaky_tests = TESTS + (
        "\nimport pathlib\n\n"
        "def test_flaky():\n"
        f"    flag = pathlib.Path({str(flag)!r})\n"
        "    if not flag.exists():\n"
        "        flag.write_text('x')\n"
        "        raise AssertionError('first run fails')\n"
    )
    bench.baseline.test_outcomes["tests/test_mod.py::test_flaky"] = "passed"
    ctx = bench.context({"tests/test_mod.py": flaky_tests})
    verdict = unit.check(ctx)
    assert verdict.passed, verdict.reason
    assert verdict.details["flaky"] == ["tests/test_mod.py::test_flaky"]
    assert "flaky" in verdict.reason


def test_hanging_test_is_killed_and_its_worktree_removed(
    gate_bench: Callable[..., GateBench],
) -> None:
    bench = gate_bench(FILES, project="proj", suite=True)
    request = dataclasses.replace(bench.request, limits=Limits(test_timeout=3))
    hang = "def clamp(x, lo, hi):\n    while True:\n        pass\n"
    repo_path = request.repo_relative("src/pkg/mod.py")
    diff = make_diff(repo_path, MODULE, hang)
    candidate = Candidate(TARGET, diff, (repo_path,), "test-driven", "test", "hang", "hangs")
    with Session(request, Progress(), "hang") as session:
        evaluation = session.evaluate(bench.baseline, candidate)
        assert not list(session.trees.root.glob("candidate-*"))
    assert evaluation.stopped_by is not None
    assert evaluation.stopped_by.gate == "unit"
    assert "did not finish within 3s" in evaluation.stopped_by.reason


def test_integration_import_check_catches_import_time_breakage(
    gate_bench: Callable[..., GateBench],
) -> None:
    bench = gate_bench(FILES, project="proj", suite=True)
    ok = integration.check(bench.context({"src/pkg/mod.py": MODULE + "\nLIMIT = 3\n"}))
    assert ok.passed and "pkg.mod" in ok.reason
    broken = integration.check(
        bench.context({"src/pkg/mod.py": MODULE + "\nraise SystemExit(3)\n"})
    )
    assert not broken.passed
    assert "pkg.mod: SystemExit" in broken.reason


def test_integration_command_failure(gate_bench: Callable[..., GateBench]) -> None:
    files = dict(FILES)
    files["proj/check.py"] = "from pkg.mod import clamp\nassert clamp(99, 0, 10) == 10, 'clamp'\n"
    bench = gate_bench(
        files,
        project="proj",
        suite=True,
        integration_command=("python", "-c", "import sys; sys.path.insert(0, 'src'); import check"),
    )
    good = integration.check(bench.context({"src/pkg/mod.py": MODULE + "# tidy\n"}))
    assert good.passed, good.reason
    bad = integration.check(
        bench.context({"src/pkg/mod.py": "def clamp(x, lo, hi):\n    return x\n"})
    )
    assert not bad.passed
    assert "exited 1" in bad.reason and "clamp" in bad.reason


def _adding_test(bench: GateBench, test: str) -> GateContext:
    """A candidate that adds ``tests/test_added.py`` (importing the src-layout package)."""
    text = f"from pkg.mod import clamp\n\n\ndef test_added() -> None:\n{test}"
    return bench.context({"tests/test_added.py": text}, target=TARGET)


def test_unit_refuses_a_candidate_whose_own_new_test_fails(
    gate_bench: Callable[..., GateBench],
) -> None:
    """A test the candidate adds is held to the same bar: red never ships."""
    bench = gate_bench(FILES, project="proj", suite=True)
    red = unit.check(_adding_test(bench, "    assert clamp(11, 0, 10) == 11\n"))
    assert not red.passed
    assert red.reason.startswith(
        "tests/test_added.py::test_added (a test the candidate adds) fails on the candidate"
    )
    green = unit.check(_adding_test(bench, "    assert clamp(11, 0, 10) == 10\n"))
    assert green.passed and "and the 1 it adds" in green.reason


def test_types_resolves_the_projects_modules_the_way_its_tests_import_them(
    gate_bench: Callable[..., GateBench],
) -> None:
    """A new test importing ``pkg`` from ``src/``: mypy gets the test run's import roots."""
    bench = gate_bench(FILES, project="proj", suite=True)
    assert "src" in bench.baseline.import_roots
    ctx = _adding_test(bench, "    assert clamp(11, 0, 10) == 10\n")
    verdict = types.check(ctx)
    assert verdict.passed, verdict.reason
    blind = dataclasses.replace(ctx, baseline=dataclasses.replace(bench.baseline, import_roots=()))
    refused = types.check(blind)  # the control: without the roots mypy cannot find `pkg`
    assert not refused.passed and "import-not-found" in refused.reason
