"""An interrupted run leaves no worktree; ``selfimprove clean`` mops up after a kill -9."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from bot.core.worktree import registered_worktrees
from tests.conftest import CLI, cli_env, run_cli
from tests.test_end_to_end import copy_example


def _start(project: Path, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "run", "--dry-run", str(project)],
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 240) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        if marker in line:
            return
        if time.monotonic() > deadline:
            break
    proc.kill()
    pytest.fail(f"the run never reached {marker!r}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_no_worktree(tmp_path: Path, sig: signal.Signals) -> None:
    project = copy_example(tmp_path / "mono")
    home = tmp_path / "home"
    proc = _start(project, home)
    _wait_for(proc, "[capturing]")
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err
    repo = tmp_path / "mono"
    assert registered_worktrees(repo) == [repo]
    assert not any((home / "worktrees").glob("*/*"))


def test_clean_removes_what_a_kill_9_left(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "mono")
    home = tmp_path / "home"
    proc = _start(project, home)
    _wait_for(proc, "[capturing]")
    proc.kill()
    proc.wait(timeout=30)
    repo = tmp_path / "mono"
    assert len(registered_worktrees(repo)) > 1, "the killed run had no worktree to leave behind"
    done = run_cli("clean", str(project), cwd=tmp_path, home=home, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "removed 1 stale worktree" in done.stdout
    assert registered_worktrees(repo) == [repo]
    assert not any((home / "worktrees").iterdir())
