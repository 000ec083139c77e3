"""What the method tests share: a tiny project with one hot function, and a scripted generator.

The project's ``top`` keeps a list sorted by hand (quadratic on purpose); the suite only
ever calls it with long, non-empty lists, so an edge case (the empty list) is left
undefended. Candidates are
whole-module rewrites written here, so the gains are large and known in advance.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.generator import Attempt
from bot.core.method import MethodContext
from bot.core.request import Request, TargetSpec, Thresholds
from bot.flow.progress import Progress
from bot.flow.run import run
from bot.report.results import RunResult
from tests.conftest import make_request, run_cli

MODULE = "src/pkg/stats.py"
TARGET = Target(file=MODULE, module="pkg.stats", qualname="top")
QUICK = Thresholds(rounds=10, sample_seconds=0.004)

SLOW_TOP = '''"""Tiny statistics."""


def top(values):
    """The largest value, or None when there are none."""
    ranked = []
    for value in values:
        ranked.append(value)
        ranked.sort()
    return ranked[-1] if ranked else None
'''


def top_module(body: str) -> str:
    """The module with ``top``'s body replaced by ``body`` (one line, indented here)."""
    head = SLOW_TOP.split("    ranked = []")[0]
    return f"{head}    {body}\n"


BUGGY_TOP = top_module("return max(values)")  # ValueError on [] where the base says None
DEFAULT_TOP = top_module("return max(values, default=None)")
GUARDED_TOP = top_module("return max(values) if values else None")

FILES = {
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    "src/pkg/__init__.py": "",
    MODULE: SLOW_TOP,
    "tests/test_stats.py": (
        "from pkg.stats import top\n\n\n"
        "def test_top_of_long_lists():\n"
        "    for n in range(1, 30):\n"
        "        assert top(list(range(n * 20))) == n * 20 - 1\n"
    ),
}


def squares_project(selfimprove: str = "") -> dict[str, str]:
    """FILES plus ``squares``, which one codemod (list-comprehension) rewrites; quick timing.

    ``selfimprove`` is extra ``[tool.selfimprove]`` text (a method's knob) for the CLI tests.
    """
    return {
        **FILES,
        "pyproject.toml": FILES["pyproject.toml"]
        + f"\n[tool.selfimprove]\n{selfimprove}"
        + "\n[tool.selfimprove.thresholds]\nrounds = 10\nsample-seconds = 0.004\n",
        MODULE: FILES[MODULE]
        + "\n\ndef squares(values: list[int]) -> list[int]:\n    result = []\n"
        "    for v in values:\n        result.append(v * v)\n    return result\n",
        "tests/test_squares.py": "from pkg.stats import squares\n\n\ndef test_squares():\n"
        "    for n in range(30):\n        assert len(squares(list(range(n * 50)))) == n * 50\n",
    }


def run_cli_method(repo: Path, method: str, home: Path | None = None) -> dict[str, Any]:
    """``selfimprove run --dry-run --json`` with ``method`` on ``squares``: its JSON report."""
    done = run_cli(
        "run", "--dry-run", str(repo), "--method", method, "--json",
        "--target", f"{MODULE}:squares", "--out", str(repo.parent / "out"),
        cwd=repo.parent, home=home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["method"] == method
    return report


@dataclass
class ScriptedGenerator:
    """A generator double: proposes the given module texts in order, skipping tried ones.

    ``revise`` (when set) picks the next text from the history instead, so a test can
    check that critiques reach the generator. Every call is kept in ``asked``.
    """

    texts: Sequence[tuple[str, str]]  # (rule, new module text)
    revise: Callable[[Sequence[Attempt]], tuple[str, str] | None] | None = None
    asked: list[dict[str, Any]] = field(default_factory=list)
    name: str = "scripted"

    def propose(
        self,
        ctx: MethodContext,
        target: Target,
        *,
        method: str,
        history: Sequence[Attempt] = (),
        count: int | None = None,
    ) -> list[Candidate]:
        self.asked.append({"method": method, "history": list(history), "count": count})
        source = ctx.base_source(target.file)
        path = ctx.request.repo_relative(target.file)
        if self.revise is not None and history:
            picked = self.revise(history)
            texts: Sequence[tuple[str, str]] = [picked] if picked else []
        else:
            texts = self.texts
        tried = {a.candidate.diff_sha256 for a in history}
        found: list[Candidate] = []
        for rule, text in texts:
            diff = make_diff(path, source, text)
            candidate = Candidate(target, diff, (path,), method, self.name, rule, rule)
            if candidate.diff_sha256 not in tried:
                found.append(candidate)
        return found[:count] if count is not None else found


def request_for(repo: Path, method: str, **overrides: Any) -> Request:
    """A quick Request for ``top`` only, with the run's bundle under tmp."""
    settings: dict[str, Any] = {
        "method": method,
        "thresholds": QUICK,
        "targets": (TargetSpec(MODULE, "top"),),
        "output_dir": repo.parent / "out" / f"run-{method}",
        **overrides,
    }
    return make_request(repo, **settings)


def run_with(request: Request, generator: ScriptedGenerator | None = None) -> RunResult:
    """The whole flow (profile, capture, method, gates, bundle, ledger) in this process."""
    return run(request, Progress(), generator)


def gates_of(result: RunResult, rule: str) -> dict[str, tuple[bool, str]]:
    """gate -> (passed, reason) for the candidate made by ``rule``."""
    [evaluation] = [e for e in result.evaluations if e.candidate.rule == rule]
    return {r.gate: (r.passed, r.reason) for r in evaluation.results}


def run_pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The project's pytest at ``cwd`` (a shipped test checked by hand), quietly."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ledger_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
