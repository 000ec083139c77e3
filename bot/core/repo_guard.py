"""A snapshot of what candidate code must never change, compared before any push.

The repository's ``.git/config``, ``.git/info/attributes`` and ``.git/hooks`` (a planted
hook or a ``filter``/``core.sshCommand`` setting would run with the bot's rights), and
the user's working tree. The snapshot is taken when a run makes its first worktree,
before any project code runs; :func:`verify` raises :class:`RepositoryChanged` on any
difference, so delivery stops with a clear error while the bundle stays on disk.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import UserError

_TAKEN: dict[Path, Snapshot] = {}
_LOCK = threading.Lock()


class RepositoryChanged(UserError):
    """The repository or the user's working tree changed during the run."""


@dataclass(frozen=True)
class Snapshot:
    """Digests of the git settings that run programs, and of the working tree."""

    settings: dict[str, str]
    tree: dict[str, str]


def _git(repo_root: Path, *args: str) -> bytes:
    done = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", *args],
        cwd=repo_root,
        capture_output=True,
        check=True,
    )
    return done.stdout


def _digest(path: Path) -> str:
    try:
        if path.is_symlink():
            return "link:" + os.readlink(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def git_dir(repo_root: Path) -> Path:
    """The repository's (common) git dir."""
    found = _git(repo_root, "rev-parse", "--git-common-dir").decode().strip()
    return (repo_root / found).resolve()


def settings(repo_root: Path) -> dict[str, str]:
    """Digests of ``config``, ``info/attributes`` and every file under ``hooks``."""
    common = git_dir(repo_root)
    found = {name: _digest(common / name) for name in ("config", "info/attributes")}
    hooks = common / "hooks"
    if hooks.is_dir():
        for path in sorted(hooks.rglob("*")):
            found[str(path.relative_to(common))] = _digest(path)
    return found


def working_tree(repo_root: Path, exclude: Sequence[Path] = ()) -> dict[str, str]:
    """Every tracked or untracked (not ignored) file: its mode, size and mtime."""
    listed = _git(repo_root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    skip = [p.resolve() for p in exclude]
    found: dict[str, str] = {}
    for raw in sorted(set(listed.split(b"\0")) - {b""}):
        rel = raw.decode(errors="surrogateescape")
        path = repo_root / rel
        if any(s == path or s in path.parents for s in skip):
            continue
        try:
            st = path.lstat()
        except OSError:
            found[rel] = "missing"
            continue
        found[rel] = f"{st.st_mode:o}:{st.st_size}:{st.st_mtime_ns}"
    return found


def snapshot(repo_root: Path, exclude: Sequence[Path] = ()) -> Snapshot:
    """What :func:`verify` will compare against."""
    return Snapshot(settings(repo_root), working_tree(repo_root, exclude))


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """What changed, one phrase each (git settings first)."""
    found: list[str] = []
    for kind, old, new in (
        ("git", before.settings, after.settings),
        ("working tree", before.tree, after.tree),
    ):
        for name in sorted(old.keys() | new.keys()):
            if old.get(name) != new.get(name):
                what = "added" if name not in old else "removed" if name not in new else "changed"
                found.append(f"{kind} file {name} was {what}")
    return found


def take(repo_root: Path, exclude: Sequence[Path] = ()) -> bool:
    """Take the run's snapshot of ``repo_root`` unless one is held; True if this call took it."""
    key = repo_root.resolve()
    with _LOCK:
        if key in _TAKEN:
            return False
        _TAKEN[key] = snapshot(key, exclude)
        return True


def verify(repo_root: Path, exclude: Sequence[Path] = (), *, tree: bool = True) -> None:
    """Raise :class:`RepositoryChanged` if the repository differs from the run's snapshot.

    ``tree=False`` checks only the git settings (cheap: before each new worktree).
    """
    key = repo_root.resolve()
    with _LOCK:
        before = _TAKEN.get(key)
    if before is None:
        return
    skip = [p.resolve() for p in exclude]

    def kept(rel: str) -> bool:
        path = key / rel
        return not any(s == path or s in path.parents for s in skip)

    before = Snapshot(before.settings, {k: v for k, v in before.tree.items() if kept(k)})
    after = Snapshot(settings(key), working_tree(key, exclude) if tree else before.tree)
    found = differences(before, after)
    if found:
        raise RepositoryChanged(
            f"{found[0]} during the run (in {key}); nothing was pushed, the bundle is kept: "
            "inspect the repository before delivering it"
        )


def forget(repo_root: Path) -> None:
    """Drop the snapshot (a new run in the same process takes a new one)."""
    with _LOCK:
        _TAKEN.pop(repo_root.resolve(), None)
