"""What a sandboxed call may see and write: the filesystem layout both sandboxes render.

Read-only: the whole machine, minus ``/tmp`` and ``$HOME`` (each replaced by an empty
private folder), the bot's own state (``$SELFIMPROVE_HOME``) and single secret files (the
signing key, the Actions runner's command files and event payload). Given back read-only
where the call needs them: the repository (its working tree and git common dir, so a
worktree's ``.git`` file resolves but no hook can be planted), the interpreters' prefixes
and the bot's own code. Writable: the call's own checkout (the linked worktree holding
its cwd, or the cwd itself) and the scratch folders its caller names.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import site
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

BOT_SOURCE = Path(__file__).resolve().parents[2]  # bot/, methods/, validators/: tools load them
RUNNER_FILES = (
    "GITHUB_ENV",
    "GITHUB_OUTPUT",
    "GITHUB_PATH",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_STATE",
    "GITHUB_EVENT_PATH",
)


@dataclass(frozen=True)
class Layout:
    """Paths by treatment, in the order a sandbox applies them."""

    private_dirs: tuple[Path, ...]  # replaced by an empty tmpfs first: /tmp, $HOME
    shared: tuple[Path, ...]  # then given back read-only: the repository, the interpreters
    hidden_dirs: tuple[Path, ...]  # then hidden again: the bot's state
    readable: tuple[Path, ...]  # then bound read-only: the inputs the caller names
    writable: tuple[Path, ...]  # then bound read-write: the checkout, scratch folders
    rehidden: tuple[Path, ...]  # then hidden again where a bind above uncovered them
    hidden_files: tuple[Path, ...]  # last, each replaced by /dev/null
    home: Path | None  # the empty private $HOME


def homes() -> list[Path]:
    """``$HOME`` and the account's home folder (they may differ)."""
    found = [Path(os.environ["HOME"])] if os.environ.get("HOME") else []
    with contextlib.suppress(KeyError):
        found.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    return _unique(p for p in found if p.is_absolute() and p != Path("/"))


def checkout_root(cwd: Path) -> tuple[Path | None, bool]:
    """The git checkout holding ``cwd`` and whether it is a linked worktree (a ``.git``
    file: the bot's own) rather than a repository's main working tree (the user's)."""
    for folder in (cwd, *cwd.parents):
        marker = folder / ".git"
        if marker.is_file():
            return folder, True
        if marker.is_dir():
            return folder, False
    return None, False


def common_dir(worktree: Path) -> Path | None:
    """The git common dir a linked worktree's ``.git`` file leads to."""
    try:
        text = (worktree / ".git").read_text().strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = (worktree / text.removeprefix("gitdir:").strip()).resolve()
    try:
        common = (gitdir / "commondir").read_text().strip()
    except OSError:
        return gitdir
    return (gitdir / common).resolve()


def interpreter_prefixes(interpreter: str | None) -> list[Path]:
    """The folders the bot's tools and the target's interpreter need: the bot's prefixes,
    site-packages and source, the target's venv and the installation it links to."""
    found = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), BOT_SOURCE]
    found += [Path(p) for p in (*site.getsitepackages(), site.getusersitepackages())]
    if interpreter:
        path = Path(interpreter)
        found += [path.parent.parent, Path(os.path.realpath(path)).parent.parent]
    return found


def layout(
    cwd: Path,
    *,
    interpreter: str | None,
    state: Sequence[Path],
    secret_files: Sequence[Path],
    writable: Sequence[Path] = (),
    readable: Sequence[Path] = (),
) -> Layout:
    """The layout of one call run in ``cwd``; ``state`` are the bot's folders to hide."""
    private = [Path("/tmp"), *homes()]
    top, linked = checkout_root(cwd)
    own = [top] if linked and top else [] if top else [cwd]  # the user's tree: read-only
    given: list[Path] = [] if linked or top is None else [top]
    common = common_dir(top) if linked and top else None
    if common is not None:
        given.append(common)
        if common.name == ".git":
            given.append(common.parent)
    given += interpreter_prefixes(interpreter)
    runner = [Path(os.environ[name]) for name in RUNNER_FILES if os.environ.get(name)]
    hidden_dirs = [p for p in _unique(state) if p.is_dir()]
    binds = [
        p for p in _unique([*readable, *own, *writable]) if p.exists() and not _covers(p, private)
    ]
    return Layout(
        private_dirs=tuple(p for p in _unique(private) if p.is_dir()),
        shared=tuple(
            p for p in _unique(given) if p.exists() and not _covers(p, [*private, *state])
        ),
        hidden_dirs=tuple(hidden_dirs),
        readable=tuple(p for p in binds if p in _unique(readable)),
        writable=tuple(p for p in binds if p not in _unique(readable)),
        rehidden=tuple(h for h in hidden_dirs if any(b == h or b in h.parents for b in binds)),
        hidden_files=tuple(p for p in _unique([*secret_files, *runner]) if p.is_file()),
        home=next(iter(homes()), None),
    )


def _covers(path: Path, hidden: Iterable[Path]) -> bool:
    """True when giving ``path`` back would undo hiding one of ``hidden`` (or everything)."""
    return path == Path("/") or any(h == path or path in h.parents for h in hidden)


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: dict[Path, None] = {}
    for path in paths:
        seen.setdefault(Path(os.path.abspath(path)), None)
    return list(seen)
