"""Unified diffs in git's format: the unit of change everywhere in the bot."""

from __future__ import annotations

import difflib

import unidiff


def make_diff(path: str, old: str, new: str) -> str:
    """A ``git apply``-able diff turning ``old`` into ``new`` for the repo-relative ``path``."""
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    body: list[str] = []
    for line in difflib.unified_diff(old_lines, new_lines, f"a/{path}", f"b/{path}", n=3):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        body.append(line)
    if not body:
        return ""
    return f"diff --git a/{path} b/{path}\n" + "".join(body)


def changed_paths(diff: str) -> tuple[str, ...]:
    """The repo-relative paths a diff touches (both sides of a rename)."""
    paths: list[str] = []
    for patched in unidiff.PatchSet(diff):
        for raw in (patched.source_file, patched.target_file):
            if raw and raw != "/dev/null":
                name = raw[2:] if raw[:2] in ("a/", "b/") else raw
                if name not in paths:
                    paths.append(name)
    return tuple(paths)


def changed_line_count(diff: str) -> int:
    """Added plus removed lines: the size a reviewer has to read."""
    return sum(p.added + p.removed for p in unidiff.PatchSet(diff))
