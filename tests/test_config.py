"""Building the Request: flags, [tool.selfimprove], defaults, and the monorepo case."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import DEFAULT_EXCLUDE, Flags, build_request, parse_target
from bot.core.errors import UserError
from bot.core.request import TargetSpec

CONFIG = """
[tool.selfimprove]
include = ["src/**/*.py"]
exclude = ["src/pkg/vendored/**"]
test-command = "python -m pytest -q -x"
integration-command = ["python", "-m", "pkg.selfcheck"]
targets = ["src/pkg/mod.py:f"]
output-dir = "out"

[tool.selfimprove.thresholds]
min-speedup = 1.2
rounds = 30

[tool.selfimprove.limits]
test-timeout = 60
"""


def test_config_and_monorepo_project(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"apps/proj/pyproject.toml": CONFIG, "README.md": "x\n"})
    request = build_request(Flags(path=str(root / "apps" / "proj")))
    assert request.repo_root == root.resolve()
    assert request.project == "apps/proj"
    assert request.include == ("src/**/*.py",)
    assert request.exclude == (*DEFAULT_EXCLUDE, "src/pkg/vendored/**")
    assert request.test_command == ("python", "-m", "pytest", "-q", "-x")
    assert request.integration_command == ("python", "-m", "pkg.selfcheck")
    assert request.targets == (TargetSpec("src/pkg/mod.py", "f"),)
    assert request.thresholds.min_speedup == 1.2 and request.thresholds.rounds == 30
    assert request.limits.test_timeout == 60.0
    assert request.output_dir.parent == (root / "apps" / "proj" / "out").resolve()
    assert request.warnings == ()
    assert Path(request.interpreter).is_file()


def test_flags_win_over_config(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    root = make_repo({"pyproject.toml": CONFIG})
    request = build_request(
        Flags(
            path=str(root),
            targets=("src/other.py",),
            test_command="pytest -q",
            output_dir=str(tmp_path / "elsewhere"),
            max_targets=3,
        )
    )
    assert request.project == "."
    assert request.targets == (TargetSpec("src/other.py"),)
    assert request.test_command == ("pytest", "-q")
    assert request.output_dir.parent == tmp_path / "elsewhere"
    assert request.limits.max_targets == 3


def test_uncommitted_changes_are_announced(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"pkg/mod.py": "x = 1\n"})
    (root / "pkg" / "mod.py").write_text("x = 2\n")
    request = build_request(Flags(path=str(root)))
    assert len(request.warnings) == 1
    assert "uncommitted changes" in request.warnings[0]
    assert request.base_commit[:12] in request.warnings[0]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[tool.selfimprove]\nincludes = []\n", "unknown key 'includes'"),
        ("[tool.selfimprove]\ninclude = 'src'\n", "must be a list of strings"),
        ("[tool.selfimprove]\ntest-command = 3\n", "must be a string or a list"),
        ("[tool.selfimprove]\nmethod = 'psychic'\n", "unknown method 'psychic'"),
        ("[tool.selfimprove.limits]\ntest-timeout = 0\n", "must be positive"),
        ("[tool.selfimprove.thresholds]\np-value = true\n", "must be a number"),
        ("[tool.selfimprove\n", "cannot read"),
        ("[tool.selfimprove]\ninterpreter = 'no-such-python-3.99'\n", "interpreter not found"),
    ],
)
def test_bad_config_is_one_sentence(
    make_repo: Callable[..., Path], toml: str, message: str
) -> None:
    root = make_repo({"pyproject.toml": toml})
    with pytest.raises(UserError, match=message):
        build_request(Flags(path=str(root)))


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="path does not exist"):
        build_request(Flags(path=str(tmp_path / "missing")))
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        build_request(Flags(path=str(tmp_path / "file.txt")))


def test_target_syntax() -> None:
    assert parse_target("a/b.py:C.m") == TargetSpec("a/b.py", "C.m")
    assert parse_target("a/b.py") == TargetSpec("a/b.py", None)
    with pytest.raises(UserError, match=r"must name a \.py file"):
        parse_target("a/b:f")
