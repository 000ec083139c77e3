"""The sandbox: secrets never reach a subprocess, hangs are killed, time is accounted."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from bot.core import sandbox
from bot.core.worktree import Worktrees
from tests.conftest import commit_files, make_request


def test_candidate_code_sees_only_allowlisted_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret")
    monkeypatch.setenv("INPUT_GITHUB-TOKEN", "ghs_secret_input")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("DATABASE_URL", "postgres://secret@db")
    monkeypatch.setenv("HARMLESS_SETTING", "kept")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    script = "import os, json; print(json.dumps(sorted(os.environ)))"
    repo = tmp_path / "repo"
    commit_files(repo, {"pyproject.toml": "[project]\nname = 'x'\n"})
    for passed in ((), ("HARMLESS_SETTING",)):
        request = make_request(repo, pass_env=passed)
        done = sandbox.run(
            [sys.executable, "-c", script], tmp_path, timeout=30, kind="test", request=request
        )
        assert done.ok, done.stderr
        names = set(json.loads(done.stdout))
        assert {"PATH", "LC_ALL"} <= names
        assert not names & {"GITHUB_TOKEN", "INPUT_GITHUB-TOKEN", "OPENAI_API_KEY", "DATABASE_URL"}
        assert ("HARMLESS_SETTING" in names) is bool(passed)


def test_refuses_to_pass_a_secret_explicitly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="GITHUB_TOKEN"):
        sandbox.run(["true"], tmp_path, timeout=5, kind="test", env={"GITHUB_TOKEN": "x"})


@pytest.mark.parametrize("confined", [True, False], ids=["sandboxed", "subreaper"])
def test_hang_is_killed_with_its_children(tmp_path: Path, confined: bool) -> None:
    """Even a grandchild in a session of its own (setsid) dies with the timeout."""
    repo = tmp_path / "repo"
    commit_files(repo, {"a.txt": "a\n"})
    marker = tmp_path / "child-alive"
    child = tmp_path / "child.py"
    child.write_text(f"import time\ntime.sleep(3)\nopen({str(marker)!r}, 'w').close()\n")
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, {str(child)!r}], start_new_session=True)\n"
        "time.sleep(60)\n"
    )
    request = make_request(repo, sandbox=confined)
    done = sandbox.run(
        [sys.executable, str(parent)], tmp_path, timeout=1, kind="test", request=request
    )
    assert done.timed_out and not done.ok
    assert done.seconds < 10
    time.sleep(3.5)
    assert not marker.exists(), "the grandchild survived the timeout"


def test_clock_adds_subprocess_time_and_counts_starts(tmp_path: Path) -> None:
    sandbox.CLOCK.reset()
    sandbox.run(
        [sys.executable, "-c", "import time; time.sleep(0.2)"], tmp_path, timeout=10, kind="x"
    )
    assert 0.2 <= sandbox.CLOCK.seconds["x"] < 5
    assert sandbox.CLOCK.started == 1
    sandbox.stop(sandbox.start([sys.executable, "-c", "pass"], tmp_path))
    assert sandbox.CLOCK.started == 2
    sandbox.CLOCK.reset()
    assert sandbox.CLOCK.started == 0


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", True),
        ("ANTHROPIC_API_KEY", True),
        ("CLIENT_SECRET", True),
        ("PGPASSWORD", True),
        ("PATH", False),
        ("HOME", False),
        ("KEYBOARD", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert sandbox.is_secret(name) is secret


def test_a_writable_folder_around_the_home_keeps_the_home_hidden(tmp_path: Path) -> None:
    """Binding a folder that holds $SELFIMPROVE_HOME hides the home again, worktree excepted."""
    repo = tmp_path / "repo"
    commit_files(repo, {"a.txt": "a\n"})
    request = make_request(repo)
    (request.home / "secret.txt").parent.mkdir(parents=True)
    (request.home / "secret.txt").write_text("state")
    with Worktrees(repo, request.home, "run") as trees:
        tree = trees.add("base", request.base_commit)
        script = "import os, sys; print(os.path.exists('a.txt'), os.path.exists(sys.argv[1]))"
        done = sandbox.run(
            [sys.executable, "-c", script, str(request.home / "secret.txt")],
            tree,
            timeout=30,
            kind="test",
            request=request,
            writable=(tmp_path,),
        )
    assert done.ok, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_a_call_in_the_users_working_tree_cannot_write_there(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commit_files(repo, {"a.txt": "a\n"})
    script = "open('planted.txt', 'w').write('x')"
    for confined in (True, False):
        request = make_request(repo, sandbox=confined)
        done = sandbox.run(
            [sys.executable, "-c", script], repo, timeout=30, kind="test", request=request
        )
        assert done.ok is not confined, done.stderr
        assert (repo / "planted.txt").exists() is not confined
