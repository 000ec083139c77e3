"""``selfimprove apply`` / ``rollback``: put a verified change on a new branch, or undo it.

Both refuse a dirty working tree, hold the patch to gate 3's path policy (no workflow,
no symbolic link, nothing under ``.git`` or outside the project, no mode change: see
:mod:`bot.core.path_policy`), check it with ``git apply --check`` before touching
anything, and commit with ``git am`` on a new branch, so the maintainer's current branch
never moves and the change is one ``git branch -D`` away from gone. A valid signature
says who made a patch, not that it is harmless: the policy holds for signed bundles too.
"""

from __future__ import annotations

from pathlib import Path

import git

from bot.bundle.read import Change
from bot.bundle.verify import path_breach
from bot.core.errors import UserError


def _repo(repo_root: Path) -> git.Repo:
    repo = git.Repo(repo_root)
    if repo.git.status("--porcelain", "--untracked-files=no").strip():
        raise UserError(
            "the working tree has uncommitted changes: commit or stash them before applying"
        )
    return repo


def within_policy(change: Change, patch: Path) -> None:
    """Refuse ``patch`` when any file it touches breaks the path policy."""
    try:
        data = patch.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {patch.name}: {exc.strerror}") from None
    breach = path_breach(change, data)
    if breach:
        raise UserError(f"{patch.name} is refused by the path policy: {breach}")


def _applies(repo: git.Repo, patch: Path, *extra: str) -> bool:
    try:
        repo.git.apply("--check", *extra, str(patch))
    except git.GitCommandError:
        return False
    return True


def _land(repo: git.Repo, patch: Path, branch: str) -> str:
    if branch in (h.name for h in repo.heads):
        raise UserError(f"branch {branch} already exists: delete it or check it out")
    repo.git.switch("-c", branch)
    try:
        repo.git.am("--quiet", "--keep-cr", str(patch))
    except git.GitCommandError as exc:
        repo.git.am("--abort")
        raise UserError(f"git am could not apply {patch.name}: {exc.stderr.strip()}") from None
    return branch


def apply_change(change: Change, repo_root: Path) -> str:
    """Apply the change's patch on a new branch ``selfimprove/<id>``; return the branch."""
    repo = _repo(repo_root)
    within_policy(change, change.patch)
    if not _applies(repo, change.patch) and _applies(repo, change.patch, "--reverse"):
        raise UserError(f"{change.id} is already applied to this checkout")
    if not _applies(repo, change.patch):
        raise UserError(f"{change.patch.name} does not apply to this checkout (git apply --check)")
    return _land(repo, change.patch, f"selfimprove/{change.id}")


def rollback_change(change: Change, repo_root: Path) -> str:
    """Apply the reverse patch on a new branch ``selfimprove/revert-<id>``."""
    repo = _repo(repo_root)
    reverse = change.reverse_patch
    within_policy(change, reverse)
    if not _applies(repo, reverse) and _applies(repo, reverse, "--reverse"):
        raise UserError(f"{change.id} is not applied to this checkout: nothing to roll back")
    if not _applies(repo, reverse):
        raise UserError(f"{reverse.name} does not apply to this checkout (git apply --check)")
    return _land(repo, reverse, f"selfimprove/revert-{change.id}")
