"""The sandbox: secrets never reach a subprocess, hangs are killed, time is accounted."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from bot.core import sandbox


def test_candidate_code_finds_no_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("MY_DB_PASSWORD", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "abc")
    monkeypatch.setenv("HARMLESS_SETTING", "kept")
    script = (
        "import os, json; print(json.dumps({k: v for k, v in os.environ.items() "
        "if 'secret' in v or 'hunter' in v or v in ('abc', 'kept')}))"
    )
    done = sandbox.run([sys.executable, "-c", script], tmp_path, timeout=30, kind="test")
    assert done.ok, done.stderr
    assert done.stdout.strip() == '{"HARMLESS_SETTING": "kept"}'


def test_refuses_to_pass_a_secret_explicitly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="GITHUB_TOKEN"):
        sandbox.run(["true"], tmp_path, timeout=5, kind="test", env={"GITHUB_TOKEN": "x"})


def test_hang_is_killed_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child-alive"
    child = tmp_path / "child.py"
    child.write_text(f"import time\ntime.sleep(3)\nopen({str(marker)!r}, 'w').close()\n")
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, {str(child)!r}])\n"
        "time.sleep(60)\n"
    )
    done = sandbox.run([sys.executable, str(parent)], tmp_path, timeout=1, kind="test")
    assert done.timed_out and not done.ok
    assert done.seconds < 10
    time.sleep(3.5)
    assert not marker.exists(), "the grandchild survived the timeout"


def test_clock_adds_subprocess_time(tmp_path: Path) -> None:
    sandbox.CLOCK.reset()
    sandbox.run(
        [sys.executable, "-c", "import time; time.sleep(0.2)"], tmp_path, timeout=10, kind="x"
    )
    assert 0.2 <= sandbox.CLOCK.seconds["x"] < 5


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
