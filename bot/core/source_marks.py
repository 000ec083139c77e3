"""A function's own source text, its hash, and the ``# selfimprove: skip`` marks around it.

Pure text functions: the memory of declined changes is keyed by the function's source, and a
maintainer silences a function (mark on its ``def`` line) or a file (mark at its top).
"""

from __future__ import annotations

import ast
import hashlib
import re

SKIP_MARK = re.compile(r"#\s*selfimprove:\s*skip\b", re.IGNORECASE)


Def = ast.FunctionDef | ast.AsyncFunctionDef
_SCOPES = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
# Blocks whose defs still bind a name of the module or class they stand in: a fallback
# under ``try: from math import sumprod`` / ``except ImportError: def _fsumprod(...)``.
_BLOCKS = (ast.If, ast.Try, ast.TryStar, ast.With, ast.AsyncWith)


def statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """``body``'s statements in source order, with those inside its if/try/with blocks."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, _BLOCKS):
            inner = list(node.body)
            for handler in getattr(node, "handlers", []):
                inner += handler.body
            inner += [*getattr(node, "orelse", []), *getattr(node, "finalbody", [])]
            found += statements(inner)
    return found


def find_def(tree: ast.Module, qualname: str) -> tuple[Def, list[ast.ClassDef]] | None:
    """The def of ``qualname`` (``func``, ``Class.method``) and the classes around it; of
    several, the last in the file (as Python binds it when they all run). One shared finder
    for every reader of a target's source."""
    body: list[ast.stmt] = tree.body
    classes: list[ast.ClassDef] = []
    parts = [p for p in qualname.split(".") if p and p != "<locals>"]
    for depth, name in enumerate(parts):
        last = depth == len(parts) - 1
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef) if last else _SCOPES
        matches = [n for n in statements(body) if isinstance(n, kinds) and n.name == name]
        if not matches:
            return None
        node = matches[-1]
        if last:
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            return node, classes
        if isinstance(node, ast.ClassDef):
            classes.append(node)
        body = node.body
    return None


def defs_in(tree: ast.Module) -> dict[str, int]:
    """Module-level functions and methods of module-level classes, by qualname -> line."""
    found: dict[str, int] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in statements(body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found[prefix + node.name] = node.lineno
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return found


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def function_source(source: str, qualname: str) -> str | None:
    """The lines of ``qualname``'s definition (decorators included), or ``None`` if absent."""
    tree = _parse(source)
    found = find_def(tree, qualname) if tree else None
    if found is None:
        return None
    node = found[0]
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
    found = find_def(tree, qualname) if tree else None
    if found is None:
        return None
    node = found[0]
    lines = source.splitlines()
    body_start = node.body[0].lineno if node.body else node.lineno + 1
    header = lines[node.lineno - 1 : max(node.lineno, body_start - 1)]
    if any(SKIP_MARK.search(line) for line in header):
        return "its def line is marked `# selfimprove: skip`"
    return None
