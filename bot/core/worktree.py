"""Detached git worktrees under a folder the bot owns, always removed when a run ends.

The user's own working tree and index are never touched: every checkout the bot needs
(the baseline, each candidate) is ``git worktree add --detach`` of the base commit.
A run records its pid next to its worktrees so ``selfimprove clean`` can tell the
leftovers of a killed run from the worktrees of a run that is still going.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from types import TracebackType

import git

from bot.core import repo_guard
from bot.core.reaper import pid_alive


class Worktrees:
    """The worktrees of one run, rooted at ``<home>/worktrees/<run_id>``."""

    def __init__(self, repo_root: Path, home: Path, run_id: str) -> None:
        self.repo = git.Repo(repo_root)
        self.root = home / "worktrees" / run_id
        self._paths: list[Path] = []
        self._home = home
        self._guarding = False

    def __enter__(self) -> Worktrees:
        # The outermost Worktrees of a run snapshots the repository before any project
        # code runs; delivery compares against it (repo_guard), and so does every add.
        self._guarding = repo_guard.take(Path(str(self.repo.working_tree_dir)), [self._home])
        self.root.mkdir(parents=True, exist_ok=True)
        owner = {"pid": os.getpid(), "repo": str(self.repo.working_tree_dir)}
        (self.root / "owner.json").write_text(json.dumps(owner))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add(self, name: str, commit: str) -> Path:
        """Check ``commit`` out, detached, into a fresh worktree called ``name``."""
        repo_guard.verify(Path(str(self.repo.working_tree_dir)), tree=False)
        path = self.root / name
        if path.exists():
            self.remove(path)
        self._paths.append(path)
        self.repo.git.worktree("add", "--detach", "--quiet", str(path), commit)
        return path

    def remove(self, path: Path) -> None:
        """Remove one worktree, even if its files were changed or it is half made."""
        with contextlib.suppress(git.GitCommandError):
            self.repo.git.worktree("remove", "--force", "--force", str(path))
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(ValueError):
            self._paths.remove(path)

    def close(self) -> None:
        """Remove every worktree of this run and the run's folder."""
        for path in list(self._paths):
            self.remove(path)
        with contextlib.suppress(git.GitCommandError):
            self.repo.git.worktree("prune")
        shutil.rmtree(self.root, ignore_errors=True)
        if self._guarding:
            repo_guard.forget(Path(str(self.repo.working_tree_dir)))
            self._guarding = False


def clean_stale(repo_root: Path, home: Path) -> list[Path]:
    """Remove worktrees left by runs that are no longer alive (e.g. after ``kill -9``)."""
    repo = git.Repo(repo_root)
    base = home / "worktrees"
    removed: list[Path] = []
    if base.is_dir():
        for run_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            try:
                owner = json.loads((run_dir / "owner.json").read_text())
            except (OSError, ValueError):
                owner = {}
            pid = owner.get("pid")
            if isinstance(pid, int) and pid_alive(pid) and pid != os.getpid():
                continue
            for child in sorted(p for p in run_dir.iterdir() if p.is_dir()):
                with contextlib.suppress(git.GitCommandError):
                    repo.git.worktree("remove", "--force", "--force", str(child))
                removed.append(child)
            shutil.rmtree(run_dir, ignore_errors=True)
    with contextlib.suppress(git.GitCommandError):
        repo.git.worktree("prune")
    return removed


def registered_worktrees(repo_root: Path) -> list[Path]:
    """Every worktree git knows of for this repository, the main one first."""
    out = git.Repo(repo_root).git.worktree("list", "--porcelain")
    return [
        Path(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("worktree ")
    ]


def apply_diff(worktree: Path, diff: str) -> None:
    """Apply a unified diff to a worktree's files (not its index); raises on a bad diff."""
    repo = git.Repo(worktree)
    patch = worktree.parent / f".{worktree.name}.patch"
    patch.write_text(diff)
    try:
        repo.git.apply("--whitespace=nowarn", str(patch))
    finally:
        patch.unlink(missing_ok=True)
