"""A repository with accepted changes written as a real bundle, and a bare remote beside it.

The changes are made here rather than by a whole run (profiling, seven gates): what is
under test is delivery, and a run takes minutes. The diffs, patches, metadata, sha256
and CIDs are the real ones ``bot.bundle.write.write_change`` writes.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import git

from bot.bundle import write as bundle
from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.evaluation import Evaluation, GateResult
from bot.core.request import Request
from bot.report.results import RunResult, TargetReport
from tests.conftest import commit_files, make_request

MODULE = "src/pkg/text.py"
SOURCE = """\
def is_vowel(c):
    return c in ["a", "e", "i", "o", "u"]


def total(xs):
    out = 0
    for x in xs:
        out += x
    return out
"""
GATES = ("syntax", "style", "security", "types", "unit", "integration", "performance")
TIMING = {
    "ratio": 1.42,
    "ci_low": 1.31,
    "ci_high": 1.55,
    "p_value": 0.0004,
    "base_median_s": 2.1e-6,
    "candidate_median_s": 1.48e-6,
    "base_iqr_s": 1e-7,
    "candidate_iqr_s": 8e-8,
    "calls": 50,
    "timing_method": "in-process",
}


@dataclass(frozen=True)
class Project:
    root: Path
    remote: Path
    request: Request

    def remote_sha(self, branch: str) -> str | None:
        done = subprocess.run(
            ["git", "-C", str(self.remote), "rev-parse", "--verify", "--quiet", branch],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() if done.returncode == 0 else None


def make_project(base: Path, repository: str = "octo/demo") -> Project:
    """A committed project, a bare remote holding its main branch, a non-dry-run Request."""
    root = base / "repo"
    root.mkdir(parents=True)
    commit_files(root, {MODULE: SOURCE, "tests/test_text.py": "def test_ok():\n    pass\n"})
    git.Repo(root).git.branch("-M", "main")
    remote = base / "remote.git"
    git.Repo.init(remote, bare=True)
    git.Repo(root).git.push(str(remote), "HEAD:refs/heads/main")
    request = make_request(
        root,
        output_dir=base / "out" / "run-1",
        home=base / "home",
        dry_run=False,
        github_repository=repository,
        push_remote=str(remote),
    )
    return Project(root, remote, request)


def change(request: Request, qualname: str, path: str, old: str, new: str, rule: str) -> Evaluation:
    """An accepted evaluation of a change from ``old`` to ``new`` in ``path``."""
    target = Target(file=path, module="pkg.text", qualname=qualname)
    candidate = Candidate(
        target=target,
        diff=make_diff(path, old, new),
        files=(path,),
        method=request.method,
        generator="codemods",
        rule=rule,
        description=f"Rewrites {qualname} with the {rule} rule.",
    )
    results = tuple(
        GateResult(
            gate,
            True,
            0.25,
            "12 tests that pass on the base pass" if gate == "unit" else f"{gate} ok",
            dict(TIMING) if gate == "performance" else {},
        )
        for gate in GATES
    )
    return Evaluation(candidate, results, len(GATES))


def membership(request: Request) -> Evaluation:
    new = SOURCE.replace('["a", "e", "i", "o", "u"]', '{"a", "e", "i", "o", "u"}')
    return change(request, "is_vowel", MODULE, SOURCE, new, "membership-set")


def summing(request: Request) -> Evaluation:
    new = SOURCE.replace(
        "    out = 0\n    for x in xs:\n        out += x\n    return out\n", "    return sum(xs)\n"
    )
    return change(request, "total", MODULE, SOURCE, new, "builtin-sum")


def clashing(request: Request) -> Evaluation:
    """Another rewrite of the line ``membership`` changes: the two cannot both apply."""
    new = SOURCE.replace('["a", "e", "i", "o", "u"]', '("a", "e", "i", "o", "u")')
    return change(request, "is_vowel", MODULE, SOURCE, new, "tuple-literal")


def workflow(request: Request) -> Evaluation:
    path = ".github/workflows/ci.yml"
    return change(request, "ci", path, "", "on: push\n", "workflow-edit")


def run_result(request: Request, *evaluations: Evaluation, run_id: str = "run-1") -> RunResult:
    """A RunResult whose accepted changes are written to the bundle folder on disk."""
    folder = request.output_dir
    folder.mkdir(parents=True, exist_ok=True)
    result = RunResult(run_id=run_id, request=request, bundle_dir=folder)
    result.evaluations.extend(evaluations)
    for evaluation in evaluations:
        result.delivered.append(bundle.write_change(request, evaluation, folder))
    seen = {e.candidate.target.key: e.candidate.target for e in evaluations}
    result.targets.extend(TargetReport(t, 50, 120) for t in seen.values())
    return result


__all__ = ["Project", "make_project", "replace", "run_result"]
