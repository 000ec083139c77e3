"""Read a model's reply strictly: one replaced function, or one unified diff of one file.

Anything else is refused with one sentence saying why (the generator passes it to the user).
Both forms end the same way: the new module text must parse and still define the target
with the same signature, and must differ from the base.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from methods.llm_prompt import find_function

_BLOCK = re.compile(r"^```[ \t]*([\w+.-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_PYTHON = {"python", "py", "python3", ""}
_DIFF = {"diff", "patch", "udiff"}


class ReplyRejected(ValueError):
    """The reply is not a usable candidate; the message says why, in one sentence."""


@dataclass(frozen=True)
class Rewrite:
    """The new text of the target's file, and which form the reply took."""

    source: str
    form: str  # "function" or "diff"


def parse_reply(text: str, source: str, qualname: str, repo_path: str) -> Rewrite:
    """The module text the reply asks for; raises :class:`ReplyRejected` otherwise."""
    blocks = _BLOCK.findall(text)
    if not blocks:
        raise ReplyRejected("the reply holds no complete fenced code block")
    if len(blocks) > 1:
        raise ReplyRejected(f"the reply holds {len(blocks)} code blocks, not exactly one")
    language, body = blocks[0]
    language = language.lower()
    if language in _DIFF or (not language and body.lstrip().startswith(("--- ", "diff --git"))):
        new_source = apply_diff_to(source, body, repo_path)
        form = "diff"
    elif language in _PYTHON:
        new_source = replace_function(source, qualname, body)
        form = "function"
    else:
        raise ReplyRejected(f"the code block is {language!r}, neither python nor diff")
    _check_result(source, new_source, qualname)
    return Rewrite(new_source, form)


def replace_function(source: str, qualname: str, definition: str) -> str:
    """``source`` with the target's definition replaced by ``definition`` (one def only)."""
    try:
        reply_tree = ast.parse(textwrap.dedent(definition))
    except SyntaxError as exc:
        raise ReplyRejected(
            f"the python block does not parse: {exc.msg} (line {exc.lineno})"
        ) from None
    name = qualname.rsplit(".", 1)[-1]
    body = reply_tree.body
    if len(body) != 1 or not isinstance(body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        raise ReplyRejected("the python block must hold exactly one def and nothing else")
    new = body[0]
    if new.name != name:
        raise ReplyRejected(f"the python block defines {new.name!r}, not {name!r}")
    tree = ast.parse(source)
    found = find_function(tree, qualname)
    if found is None:
        raise ReplyRejected(f"{qualname} is not defined in the base file")
    old = found[0]
    _same_signature(old, new)
    if new.decorator_list and _decorators(new) != _decorators(old):
        raise ReplyRejected("the new definition changes the decorators")
    lines = source.splitlines(keepends=True)
    def_line = lines[old.lineno - 1]
    indent = def_line[: len(def_line) - len(def_line.lstrip())]
    start = (
        min(d.lineno for d in old.decorator_list)
        if new.decorator_list and old.decorator_list
        else old.lineno
    )
    end = old.end_lineno or old.lineno
    block = textwrap.dedent(definition).strip("\n").splitlines()
    placed = "".join(f"{indent}{line}\n" if line.strip() else "\n" for line in block)
    return "".join(lines[: start - 1]) + placed + "".join(lines[end:])


def apply_diff_to(source: str, diff: str, repo_path: str) -> str:
    """``source`` with a unified diff of ``repo_path`` applied; every hunk must match exactly."""
    try:
        patch = PatchSet(diff if diff.endswith("\n") else diff + "\n")
    except UnidiffParseError as exc:
        raise ReplyRejected(f"the diff does not parse: {exc}") from None
    if len(patch) != 1:
        raise ReplyRejected(f"the diff touches {len(patch)} files, not only {repo_path}")
    patched = patch[0]
    if patched.is_added_file or patched.is_removed_file or patched.is_rename:
        raise ReplyRejected("the diff adds, removes or renames a file")
    paths = {_strip_prefix(patched.source_file), _strip_prefix(patched.target_file)}
    if paths != {repo_path}:
        raise ReplyRejected(f"the diff changes {', '.join(sorted(paths))}, not only {repo_path}")
    lines = source.splitlines()
    offset = 0
    for number, hunk in enumerate(patched, start=1):
        old = [line.value.rstrip("\r\n") for line in hunk if line.is_context or line.is_removed]
        new = [line.value.rstrip("\r\n") for line in hunk if line.is_context or line.is_added]
        where = _locate_hunk(lines, old, hunk.source_start - 1 + offset)
        if where is None:
            raise ReplyRejected(f"hunk {number} of the diff does not match the base file")
        lines[where : where + len(old)] = new
        offset += len(new) - len(old)
    return "\n".join(lines) + ("\n" if source.endswith("\n") or not source else "")


def _locate_hunk(lines: list[str], old: list[str], expected: int) -> int | None:
    """Where ``old`` sits: at the stated line if it matches there, else its only match."""
    if not old:
        return expected if 0 <= expected <= len(lines) else None
    if lines[expected : expected + len(old)] == old:
        return expected
    matches = [i for i in range(len(lines) - len(old) + 1) if lines[i : i + len(old)] == old]
    return matches[0] if len(matches) == 1 else None


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in ("a/", "b/") else path


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    kind = "async" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = ast.dump(node.returns) if node.returns else ""
    return f"{kind} {ast.dump(node.args)} -> {returns}"


def _decorators(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [ast.dump(d) for d in node.decorator_list]


def _same_signature(
    old: ast.FunctionDef | ast.AsyncFunctionDef, new: ast.FunctionDef | ast.AsyncFunctionDef
) -> None:
    if _signature(old) != _signature(new):
        raise ReplyRejected(
            f"the new {old.name} changes the signature "
            "(parameters, defaults, annotations, return type or async)"
        )


def _check_result(source: str, new_source: str, qualname: str) -> None:
    try:
        tree = ast.parse(new_source)
    except SyntaxError as exc:
        raise ReplyRejected(
            f"the changed file does not parse: {exc.msg} (line {exc.lineno})"
        ) from None
    found = find_function(tree, qualname)
    if found is None:
        raise ReplyRejected(f"the changed file no longer defines {qualname}")
    base = find_function(ast.parse(source), qualname)
    if base is not None:
        _same_signature(base[0], found[0])
        if _decorators(base[0]) != _decorators(found[0]):
            raise ReplyRejected("the change alters the decorators")
    if new_source == source:
        raise ReplyRejected("the reply changes nothing")
