"""Diffs: what we make applies with git, and its reverse restores the base byte for byte."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from bot.core.diffs import changed_line_count, make_diff, reverse_diff
from bot.core.path_policy import touches


def _git_apply(root: Path, diff: str) -> None:
    (root / "change.patch").write_text(diff)
    subprocess.run(["git", "apply", "change.patch"], cwd=root, check=True)


def test_make_and_reverse_round_trip_through_git_apply(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "pkg").mkdir()
    target = tmp_path / "pkg" / "mod.py"
    rng = random.Random(3)
    for _ in range(40):
        old = "".join(rng.choice("abcdef") + "\n" for _ in range(rng.randint(1, 12)))
        new = "".join(rng.choice("abcxyz") + "\n" for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.3:
            old = old.rstrip("\n")
        if rng.random() < 0.3:
            new = new.rstrip("\n")
        diff = make_diff("pkg/mod.py", old, new)
        if not diff:
            continue
        target.write_text(old)
        _git_apply(tmp_path, diff)
        assert target.read_text() == new
        _git_apply(tmp_path, reverse_diff(diff))
        assert target.read_bytes() == old.encode()


def test_paths_and_size() -> None:
    diff = make_diff("a/b.py", "x = 1\ny = 2\n", "x = 1\ny = 3\nz = 4\n")
    assert [t.path for t in touches(diff)] == ["a/b.py"]
    assert changed_line_count(diff) == 3
    assert make_diff("a/b.py", "same\n", "same\n") == ""
