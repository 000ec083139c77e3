"""A function's own source text, its hash, and the ``# selfimprove: skip`` marks around it.

Pure text functions: the memory of declined changes is keyed by the function's source, and a
maintainer silences a function (mark on its ``def`` line) or a file (mark at its top).
"""

from __future__ import annotations

import ast
import hashlib
import re

SKIP_MARK = re.compile(r"#\s*selfimprove:\s*skip\b", re.IGNORECASE)


def _find(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    body: list[ast.stmt] = tree.body
    parts = qualname.split(".")
    for depth, name in enumerate(parts):
        last = depth == len(parts) - 1
        found: ast.stmt | None = None
        for node in body:
            kinds = (ast.FunctionDef, ast.AsyncFunctionDef) if last else (ast.ClassDef,)
            if isinstance(node, kinds) and node.name == name:
                found = node
        if found is None:
            return None
        if last:
            assert isinstance(found, ast.FunctionDef | ast.AsyncFunctionDef)
            return found
        assert isinstance(found, ast.ClassDef)
        body = found.body
    return None


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def function_source(source: str, qualname: str) -> str | None:
    """The lines of ``qualname``'s definition (decorators included), or ``None`` if absent."""
    tree = _parse(source)
    node = _find(tree, qualname) if tree else None
    if node is None:
        return None
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = source.splitlines()
    return "\n".join(lines[first - 1 : node.end_lineno]) + "\n"


def source_hash(text: str) -> str:
    """A short, stable hash of a function's source text."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_is_skipped(source: str) -> bool:
    """A skip mark in the file's leading comments (before its first line of code)."""
    for line in source.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return False
        if SKIP_MARK.search(stripped):
            return True
    return False


def skip_reason(source: str, qualname: str) -> str | None:
    """Why the maintainer's marks silence ``qualname`` in ``source``, or ``None``."""
    if file_is_skipped(source):
        return "its file is marked `# selfimprove: skip`"
    tree = _parse(source)
    node = _find(tree, qualname) if tree else None
    if node is None:
        return None
    lines = source.splitlines()
    body_start = node.body[0].lineno if node.body else node.lineno + 1
    header = lines[node.lineno - 1 : max(node.lineno, body_start - 1)]
    if any(SKIP_MARK.search(line) for line in header):
        return "its def line is marked `# selfimprove: skip`"
    return None
