"""Bad input: one clear sentence on stderr, a non-zero exit, no traceback, nothing left behind."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.worktree import registered_worktrees
from tests.conftest import run_cli

PYPROJECT = "[tool.pytest.ini_options]\npythonpath = ['src']\n"
GOOD_MODULE = "def double(x):\n    return x * 2\n"
GOOD_TEST = "from pkg.mod import double\n\ndef test_double():\n    assert double(2) == 4\n"


def selfimprove(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd)


def assert_one_sentence(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("selfimprove: error:")]
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def project(**overrides: str) -> dict[str, str]:
    files = {
        "proj/pyproject.toml": PYPROJECT,
        "proj/src/pkg/__init__.py": "",
        "proj/src/pkg/mod.py": GOOD_MODULE,
        "proj/tests/test_mod.py": GOOD_TEST,
    }
    files.update(overrides)
    return files


def test_path_does_not_exist(tmp_path: Path) -> None:
    done = selfimprove("run", "--dry-run", str(tmp_path / "nope"), cwd=tmp_path)
    assert_one_sentence(done, "path does not exist")


def test_not_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    done = selfimprove("run", "--dry-run", str(tmp_path / "plain"), cwd=tmp_path)
    assert_one_sentence(done, "not a git repository")


def test_unknown_config_key(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    root = make_repo(
        project(**{"proj/pyproject.toml": PYPROJECT + "[tool.selfimprove]\ntest-cmd = 'x'\n"})
    )
    done = selfimprove("run", "--dry-run", str(root / "proj"), cwd=tmp_path)
    assert_one_sentence(done, "unknown key 'test-cmd'")


def test_unknown_nested_config_key(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    toml = PYPROJECT + "[tool.selfimprove.thresholds]\nmin-speed = 2\n"
    root = make_repo(project(**{"proj/pyproject.toml": toml}))
    done = selfimprove("run", "--dry-run", str(root / "proj"), cwd=tmp_path)
    assert_one_sentence(done, "unknown key 'min-speed'")


def test_unknown_target_function(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    root = make_repo(project())
    done = selfimprove(
        "run", "--dry-run", str(root / "proj"), "--target", "src/pkg/mod.py:triple", cwd=tmp_path
    )
    assert_one_sentence(done, "unknown target src/pkg/mod.py:triple")
    assert registered_worktrees(root) == [root]


def test_unknown_target_file(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    root = make_repo(project())
    done = selfimprove("run", "--dry-run", str(root / "proj"), "--target", "src/x.py", cwd=tmp_path)
    assert_one_sentence(done, "unknown target src/x.py")


def test_red_baseline(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    broken = GOOD_TEST.replace("== 4", "== 5")
    root = make_repo(project(**{"proj/tests/test_mod.py": broken}))
    done = selfimprove("run", "--dry-run", str(root / "proj"), cwd=tmp_path)
    assert_one_sentence(done, "red baseline", "test_double")
    assert registered_worktrees(root) == [root]


def test_no_tests_collected(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    files = project()
    del files["proj/tests/test_mod.py"]
    root = make_repo(files)
    done = selfimprove("run", "--dry-run", str(root / "proj"), cwd=tmp_path)
    assert_one_sentence(done, "no tests were collected")


def test_bad_flag(tmp_path: Path) -> None:
    done = selfimprove("run", "--dry-run", ".", "--method", "telepathy", cwd=tmp_path)
    assert_one_sentence(done, "telepathy")


@pytest.mark.parametrize("value", ["'three'", "-1"])
def test_bad_threshold_value(make_repo: Callable[..., Path], tmp_path: Path, value: str) -> None:
    toml = PYPROJECT + f"[tool.selfimprove.limits]\nmax-targets = {value}\n"
    root = make_repo(project(**{"proj/pyproject.toml": toml}))
    done = selfimprove("run", "--dry-run", str(root / "proj"), cwd=tmp_path)
    assert_one_sentence(done, "max-targets")
