"""The spine, end to end: the bundled example, as a project inside a monorepo in tmp.

``selfimprove run --dry-run`` runs as a real subprocess; the patch it bundles must apply
to a fresh clone of the base (with ``git apply`` and ``git am``), the example's tests
must pass there, and the reverse patch must restore the base byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.core.worktree import registered_worktrees
from tests.conftest import commit_files, run_cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "textstats"


def copy_example(root: Path) -> Path:
    """A monorepo in ``root`` with the example at examples/textstats, committed."""
    files = {
        f"examples/textstats/{p.relative_to(EXAMPLE).as_posix()}": p.read_text()
        for p in EXAMPLE.rglob("*")
        if p.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__" for part in p.relative_to(EXAMPLE).parts
        )
    }
    files["README.md"] = "a monorepo\n"
    root.mkdir()
    commit_files(root, files)
    return root / "examples" / "textstats"


def selfimprove(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, home=home, timeout=900)


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("e2e")
    project = copy_example(tmp / "mono")
    out = tmp / "out"
    # The three hottest targets keep CI to minutes; benchmarks/run_example.py runs them all.
    done = selfimprove(
        "run",
        "--dry-run",
        str(project),
        "--json",
        "--out",
        str(out),
        "--max-targets",
        "3",
        cwd=tmp,
        home=tmp / "home",
    )
    assert done.returncode == 0, done.stderr
    return {
        "tmp": tmp,
        "repo": tmp / "mono",
        "report": json.loads(done.stdout),
        "stderr": done.stderr,
    }


def test_progress_and_report(example_run: dict[str, Any]) -> None:
    stderr = example_run["stderr"]
    for stage in ("[profiling]", "[capturing]", "[generating]", "[bundling]"):
        assert stage in stderr
    for gate in ("syntax", "style", "security", "types", "unit", "integration", "performance"):
        assert f"    {gate}" in stderr
    report = example_run["report"]
    assert report["project"] == "examples/textstats"
    assert report["targets"], "profiling found no targets"
    assert all(t["captured_calls"] > 0 for t in report["targets"])
    assert report["candidates"]
    for candidate in report["candidates"]:
        if not candidate["accepted"]:
            assert candidate["stopped_by"] and candidate["reason"]


def test_at_least_one_measurably_faster_change(example_run: dict[str, Any]) -> None:
    accepted = example_run["report"]["accepted"]
    assert accepted, "no change was accepted on the example"
    for change in accepted:
        timing = change["timing"]
        assert timing["ci_low"] >= 1.05
        assert timing["p_value"] < 0.01
        assert timing["base_median_s"] > timing["candidate_median_s"]


def test_no_worktree_left_and_ledger_complete(example_run: dict[str, Any]) -> None:
    repo: Path = example_run["repo"]
    assert registered_worktrees(repo) == [repo]
    bundle = Path(example_run["report"]["bundle_dir"])
    lines = (bundle / "ledger.jsonl").read_text().splitlines()
    assert len(lines) == len(example_run["report"]["candidates"])
    assert (bundle / "report.md").read_text().startswith("# selfimprove run report")
    assert (
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True
        ).stdout
        == ""
    )


def _fresh_clone(source: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(source), str(dest)], check=True)
    return dest


def test_patch_applies_to_a_fresh_clone_and_tests_pass(example_run: dict[str, Any]) -> None:
    tmp: Path = example_run["tmp"]
    for n, change in enumerate(example_run["report"]["accepted"]):
        clone = _fresh_clone(example_run["repo"], tmp / f"clone-apply-{n}")
        subprocess.run(["git", "apply", "--check", change["patch"]], cwd=clone, check=True)
        subprocess.run(["git", "apply", change["patch"]], cwd=clone, check=True)
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=clone / "examples" / "textstats",
            capture_output=True,
            text=True,
        )
        assert tests.returncode == 0, tests.stdout
        before = {p: (example_run["repo"] / p).read_bytes() for p in _changed(clone)}
        subprocess.run(["git", "apply", change["reverse_patch"]], cwd=clone, check=True)
        for path, original in before.items():
            assert (clone / path).read_bytes() == original
        assert _changed(clone) == []


def test_patch_applies_with_git_am(example_run: dict[str, Any]) -> None:
    tmp: Path = example_run["tmp"]
    change = example_run["report"]["accepted"][0]
    clone = _fresh_clone(example_run["repo"], tmp / "clone-am")
    subprocess.run(["git", "am", "-q", change["patch"]], cwd=clone, check=True)
    log = subprocess.run(
        ["git", "log", "-1", "--format=%an|%s"], cwd=clone, capture_output=True, text=True
    )
    assert log.stdout.startswith("selfimprove|perf(")


def _changed(clone: Path) -> list[str]:
    out = subprocess.run(
        ["git", "diff", "--name-only"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if line]


def test_bundle_metadata_records_provenance_and_every_gate(example_run: dict[str, Any]) -> None:
    report = example_run["report"]
    for change in report["accepted"]:
        meta = json.loads(Path(change["metadata"]).read_text())
        assert meta["base_commit"] == report["base_commit"]
        assert meta["method"] == "test-driven" and meta["generator"] == "codemods"
        assert [g["gate"] for g in meta["gates"]] == [
            "syntax", "style", "security", "types", "unit", "integration", "performance"
        ]  # fmt: skip
        assert all(g["passed"] and g["seconds"] >= 0 for g in meta["gates"])
        assert meta["timing"]["base_iqr_s"] >= 0 and meta["timing"]["calls"] > 0
        patch = Path(change["patch"]).read_bytes()
        assert hashlib.sha256(patch).hexdigest() == meta["patch_sha256"] == change["patch_sha256"]
