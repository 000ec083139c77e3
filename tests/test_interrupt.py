"""An interrupted run stops at once and leaves nothing; ``clean`` mops up after a kill -9.

The signal is sent at a stage boundary the run announces on stderr (capture, and a
candidate's gates), on a small project, so each case takes seconds. Thorough coverage
(20 moments spread over a whole run) is ``benchmarks/interrupt_stress.py``.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import git
import pytest

from bot.core.worktree import registered_worktrees
from tests.conftest import CLI, cli_env, commit_files, run_cli
from tests.small_project import FILES


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    commit_files(root, FILES)
    return root


def _start(project: Path, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "run", "--dry-run", str(project), "--out", str(home / "out")],
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 240) -> str:
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            return "".join(seen)
        if time.monotonic() > deadline:
            break
    proc.kill()
    pytest.fail(f"the run never reached {marker!r}:\n{''.join(seen)}")


@pytest.mark.parametrize(
    ("sig", "marker"),
    [(signal.SIGINT, "[capturing]"), (signal.SIGTERM, "[candidate 1]")],
    ids=["SIGINT-capture", "SIGTERM-gates"],
)
def test_interrupted_run_stops_and_leaves_nothing(
    tmp_path: Path, sig: signal.Signals, marker: str
) -> None:
    project = _project(tmp_path)
    home = tmp_path / "home"
    head = git.Repo(project).head.commit.hexsha
    proc = _start(project, home)
    before = _wait_for(proc, marker)
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, after = proc.communicate(timeout=60)
    assert proc.returncode == 130, before + after
    assert time.monotonic() - sent < 30
    assert "Traceback" not in after
    assert "interrupted" in after
    assert "[bundling]" not in after  # it stopped; it did not go on to the next stages
    assert registered_worktrees(project) == [project]
    assert not any((home / "worktrees").glob("*/*"))
    repo = git.Repo(project)
    assert repo.head.commit.hexsha == head and not repo.is_dirty(untracked_files=True)


def test_clean_removes_what_a_kill_9_left(tmp_path: Path) -> None:
    project = _project(tmp_path)
    home = tmp_path / "home"
    proc = _start(project, home)
    _wait_for(proc, "[capturing]")
    proc.kill()
    proc.wait(timeout=30)
    assert len(registered_worktrees(project)) > 1, "the killed run had no worktree to leave"
    done = run_cli("clean", str(project), cwd=tmp_path, home=home, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "removed 1 stale worktree" in done.stdout
    assert registered_worktrees(project) == [project]
    assert not any((home / "worktrees").iterdir())
