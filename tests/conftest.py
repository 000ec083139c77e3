"""Shared fixtures: real git repositories in tmp, real worktrees, real gate contexts."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import git
import pytest

from bot.core.baseline import Baseline
from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff, new_file_diff
from bot.core.request import Request
from bot.core.testrun import run_suite
from bot.core.worktree import Worktrees, apply_diff
from validators.context import GateContext


def commit_files(root: Path, files: dict[str, str], message: str = "base") -> str:
    """Write ``files`` (path -> text) under ``root``, commit them, return the commit sha."""
    repo = git.Repo.init(root) if not (root / ".git").exists() else git.Repo(root)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    repo.git.add("--all")
    repo.git.commit("-q", "-m", message, "--allow-empty")
    return repo.head.commit.hexsha


CLI = (sys.executable, "-m", "bot.cli")


def _ambient(name: str) -> bool:
    return name.startswith(("GITHUB_", "ACTIONS_", "RUNNER_", "GH_")) or name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
    )


def cli_env(home: Path | None = None) -> dict[str, str]:
    """The environment for running the ``selfimprove`` command as a user would."""
    # Hermetic even on a CI runner: no GitHub repository, token or OIDC identity to act on.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not _ambient(k)}
    if home is not None:
        env["SELFIMPROVE_HOME"] = str(home)
    return env


def run_cli(
    *args: str,
    cwd: Path,
    home: Path | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``selfimprove ARGS`` in a real subprocess and capture what it printed.

    ``env`` adds variables on top of the hermetic environment (say, a stand-in's token).
    """
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=cli_env(home) | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection to an address other than 127.0.0.1, and ignore proxy settings."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    real = socket.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        assert address[0] == "127.0.0.1", f"contacted {address[0]}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    yield


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own SELFIMPROVE_HOME so no state leaks between tests."""
    home = tmp_path / "selfimprove-home"
    monkeypatch.setenv("SELFIMPROVE_HOME", str(home))
    return home


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Create a git repository in tmp holding ``files`` in one commit."""

    def make(files: dict[str, str], name: str = "repo") -> Path:
        root = tmp_path / name
        root.mkdir()
        commit_files(root, files)
        return root

    return make


def make_request(repo_root: Path, project: str = ".", **overrides: Any) -> Request:
    """A Request for tests: the running interpreter, pytest, output and home under tmp."""
    repo = git.Repo(repo_root)
    base = dict(
        repo_root=repo_root,
        project=project,
        base_commit=repo.head.commit.hexsha,
        interpreter=sys.executable,
        test_command=("python", "-m", "pytest", "-q"),
        output_dir=repo_root.parent / "out",
        home=repo_root.parent / "selfimprove-home",
    )
    base.update(overrides)
    return Request(**base)  # type: ignore[arg-type]


@dataclass
class GateBench:
    """A base worktree and a factory of candidate worktrees for one repository."""

    request: Request
    worktrees: Worktrees
    baseline: Baseline
    _count: int = field(default=0)

    def context(
        self,
        changes: dict[str, str],
        target: Target | None = None,
        rule: str = "test",
        method: str = "test-driven",
    ) -> GateContext:
        """Check out a candidate that rewrites or adds ``changes`` (project-relative -> text)."""
        diff = ""
        files = []
        for rel, new in changes.items():
            repo_path = self.request.repo_relative(rel)
            old_path = self.baseline.root / repo_path
            if old_path.exists():
                diff += make_diff(repo_path, old_path.read_text(), new)
            else:
                diff += new_file_diff(repo_path, new)
            files.append(repo_path)
        target = target or Target(file=next(iter(changes)), module="m", qualname="f")
        candidate = Candidate(target, diff, tuple(files), method, "test", rule, "test")
        self._count += 1
        root = self.worktrees.add(f"candidate-{self._count}", self.request.base_commit)
        apply_diff(root, diff)
        return GateContext(self.request, candidate, self.baseline, root)


def open_bench(
    root: Path,
    project: str = ".",
    suite: bool = False,
    capture: tuple[Target, ...] = (),
    name: str = "test-run",
    **overrides: Any,
) -> GateBench:
    """A GateBench on the repository at ``root``; the caller closes its worktrees.

    With ``suite=True`` the base suite is run through the harness, so the baseline has real
    test outcomes, import roots and (for ``capture`` targets) captured calls.
    """
    request = make_request(root, project, **overrides)
    trees = Worktrees(root, request.home, name).__enter__()
    base_root = trees.add("base", request.base_commit)
    work = request.home / "work"
    work.mkdir(parents=True, exist_ok=True)
    baseline = Baseline(root=base_root, work_dir=work, test_outcomes={}, import_roots=())
    if suite or capture:
        ran = run_suite(request, base_root, capture=capture)
        baseline.test_outcomes = ran.outcomes
        baseline.import_roots = ran.import_roots
        if capture:
            capture_file = work / "captures.json"
            capture_file.write_text(json.dumps(ran.captures))
            baseline.capture_file = capture_file
            baseline.targets = capture
            baseline.captured_calls = {k: len(v["calls"]) for k, v in ran.captures.items()}
    return GateBench(request, trees, baseline)


def close_bench(bench: GateBench) -> None:
    bench.worktrees.close()
    shutil.rmtree(bench.request.output_dir, ignore_errors=True)


@pytest.fixture
def gate_bench(make_repo: Callable[..., Path]) -> Iterator[Callable[..., GateBench]]:
    """Factory: ``gate_bench(files, project='.', suite=False, capture=(), **request_overrides)``
    (see :func:`open_bench`)."""
    benches: list[GateBench] = []

    def build(files: dict[str, str], project: str = ".", **kwargs: Any) -> GateBench:
        root = make_repo(files, name=f"repo{len(benches)}")
        bench = open_bench(root, project, name=f"test-run-{len(benches)}", **kwargs)
        benches.append(bench)
        return bench

    yield build
    for bench in benches:
        close_bench(bench)


__all__ = [
    "CLI",
    "GateBench",
    "cli_env",
    "close_bench",
    "commit_files",
    "make_request",
    "open_bench",
    "replace",
    "run_cli",
]
