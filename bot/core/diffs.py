"""Unified diffs in git's format: the unit of change everywhere in the bot."""

from __future__ import annotations

import difflib

from unidiff.patch import PatchSet


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


def new_file_diff(path: str, text: str) -> str:
    """A ``git apply``-able diff creating the repo-relative file ``path`` holding ``text``."""
    body = make_diff(path, "", text).split("\n", 3)[3]  # the hunks, without the old header
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n{body}"
    )


def changed_line_count(diff: str) -> int:
    """Added plus removed lines: the size a reviewer has to read."""
    return sum(int(p.added) + int(p.removed) for p in PatchSet(diff))


def reverse_diff(diff: str) -> str:
    """The diff that undoes ``diff``: sides, hunk ranges and +/- lines swapped.

    Inside each run of changed lines the removals come first, as in any unified diff; a
    "no newline at end of file" marker stays with the line it follows.
    """
    out: list[str] = []
    removed: list[str] = []
    added: list[str] = []
    last_kind = ""
    pending_old = ""

    def flush() -> None:
        out.extend(removed)
        out.extend(added)
        removed.clear()
        added.clear()

    for line in diff.splitlines(keepends=True):
        if line.startswith("\\"):
            (added if last_kind == "+" else removed if last_kind == "-" else out).append(line)
            continue
        last_kind = ""
        if line.startswith(("+", "-")) and not line.startswith(("+++ ", "--- ")):
            last_kind = "-" if line[0] == "+" else "+"
            (removed if last_kind == "-" else added).append(last_kind + line[1:])
            continue
        flush()
        if line.startswith("diff --git "):
            _, _, a, b = line.rstrip("\n").split(" ", 3)
            out.append(f"diff --git a/{b[2:]} b/{a[2:]}\n")
        elif line.startswith("--- "):
            pending_old = line[4:]
        elif line.startswith("+++ "):
            out.append("--- " + _swap_prefix(line[4:], "a/"))
            out.append("+++ " + _swap_prefix(pending_old, "b/"))
        elif line.startswith(("new file mode ", "deleted file mode ")):
            kind, mode = line.split(" mode ", 1)
            out.append(f"{'deleted file' if kind == 'new file' else 'new file'} mode {mode}")
        elif line.startswith("@@ "):
            head, _, tail = line[3:].partition(" @@")
            old, new = head.split(" ")
            out.append(f"@@ -{new[1:]} +{old[1:]} @@{tail}")
        else:
            out.append(line)
    flush()
    return "".join(out)


def _swap_prefix(name: str, prefix: str) -> str:
    return name if name.startswith("/dev/null") else prefix + name[2:]


def apply_to_text(diff: str, path: str, text: str) -> str | None:
    """``text`` (the base of repo-relative ``path``) with ``diff``'s hunks for it applied.

    ``None`` when the diff does not touch ``path`` or its context does not match ``text``.
    """
    for patched in PatchSet(diff):
        if patched.path != path:
            continue
        lines = text.splitlines(keepends=True)
        out: list[str] = []
        pos = 0
        for hunk in patched:
            start = hunk.source_start - 1 if hunk.source_length else hunk.source_start
            out.extend(lines[pos:start])
            pos = start
            for line in hunk:
                if line.is_context or line.is_removed:
                    if pos >= len(lines) or lines[pos].rstrip("\n") != line.value.rstrip("\n"):
                        return None
                    pos += 1
                if line.is_context or line.is_added:
                    out.append(line.value)
        out.extend(lines[pos:])
        return "".join(out)
    return None
