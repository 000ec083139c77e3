"""Read a model's reply: one replaced function, or one unified diff of the target's file.

Tolerant of how chat models write (several blocks of which one defines the target, fences
indented in a list, CRLF line ends, the whole module instead of the def, a diff path
relative to the project, hunk counts that are off), strict about what is used: only the
target's new definition, and module-level constants it uses that bind new names to literal
values. Anything else is refused with one sentence saying why (the generator passes it on).
Both forms end the same way: the new module text must parse and still define the target
with the same signature, and must differ from the base. The gates judge the rest.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Collection
from dataclasses import dataclass

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from bot.core.source_marks import find_def

_BLOCK = re.compile(
    r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<language>[\w+.-]*)[^\n]*\n"
    r"(?P<body>.*?)^ {0,3}(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")
_PYTHON = {"python", "py", "python3", ""}
_DIFF = {"diff", "patch", "udiff"}
_LITERAL_CALLS = {"frozenset", "set", "tuple"}  # of a literal: a constant, no side effects
Function = ast.FunctionDef | ast.AsyncFunctionDef


class ReplyRejected(ValueError):
    """The reply is not a usable candidate; the message says why, in one sentence."""


@dataclass(frozen=True)
class Rewrite:
    """The new text of the target's file, and which form the reply took."""

    source: str
    form: str  # "function" or "diff"


@dataclass(frozen=True)
class Block:
    """One fenced code block of a reply: its language tag and its text."""

    language: str
    body: str

    @property
    def is_diff(self) -> bool:
        return self.language in _DIFF or (
            not self.language and self.body.lstrip().startswith(("--- ", "diff --git"))
        )


def parse_reply(
    text: str, source: str, qualname: str, repo_path: str, files: Collection[str] = ()
) -> Rewrite:
    """The module text the reply asks for; raises :class:`ReplyRejected` otherwise.

    ``files`` are the repository's files, against which a diff's path must match
    ``repo_path`` alone.
    """
    block = choose_block(blocks(text), qualname)
    if block.is_diff:
        new_source = apply_diff_to(source, block.body, repo_path, files)
        form = "diff"
    elif block.language in _PYTHON:
        new_source = replace_function(source, qualname, block.body)
        form = "function"
    else:
        raise ReplyRejected(f"the code block is {block.language!r}, neither python nor diff")
    _check_result(source, new_source, qualname)
    return Rewrite(new_source, form)


def blocks(text: str) -> list[Block]:
    """The reply's fenced blocks (CRLF read as LF; a fence may be indented up to 3 spaces,
    and that much indentation is taken off its lines, as Markdown does)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    found = []
    for match in _BLOCK.finditer(text):
        width = len(match["indent"])
        lines = match["body"].splitlines(keepends=True)
        body = "".join(_unindent(line, width) for line in lines)
        found.append(Block(match["language"].lower(), body))
    return found


def choose_block(found: list[Block], qualname: str) -> Block:
    """The one block that defines the target (a usage example beside it is left alone)."""
    if not found:
        raise ReplyRejected("the reply holds no complete fenced code block")
    if len(found) == 1:
        return found[0]
    defining = [b for b in found if b.is_diff or _defines(b.body, qualname)]
    if len(defining) == 1:
        return defining[0]
    name = qualname.rsplit(".", 1)[-1]
    if not defining:
        raise ReplyRejected(f"none of the reply's {len(found)} code blocks defines {name!r}")
    raise ReplyRejected(f"{len(defining)} code blocks of the reply define {name!r}, not one")


def replace_function(source: str, qualname: str, definition: str) -> str:
    """``source`` with the target's definition replaced by the one in ``definition``, and the
    new module-level constants it uses put before it. ``definition`` may be the whole
    module: what the base already defines is left as the base has it."""
    code = textwrap.dedent(definition)
    try:
        reply_tree = ast.parse(code)
    except SyntaxError as exc:
        raise ReplyRejected(
            f"the python block does not parse: {exc.msg} (line {exc.lineno})"
        ) from None
    name = qualname.rsplit(".", 1)[-1]
    new = _reply_definition(reply_tree, qualname)
    if new is None:
        others = [n.name for n in reply_tree.body if isinstance(n, Function)]
        if len(others) == 1:
            raise ReplyRejected(f"the python block defines {others[0]!r}, not {name!r}")
        raise ReplyRejected(f"the python block does not define {name!r}")
    tree = ast.parse(source)
    found = find_def(tree, qualname)
    if found is None:
        raise ReplyRejected(f"{qualname} is not defined in the base file")
    old, classes = found
    _same_signature(old, new)
    if new.decorator_list and _decorators(new) != _decorators(old):
        raise ReplyRejected("the new definition changes the decorators")
    constants = _new_constants(reply_tree, new, tree, code)
    lines = source.splitlines(keepends=True)
    def_line = lines[old.lineno - 1]
    indent = def_line[: len(def_line) - len(def_line.lstrip())]
    start = (
        min(d.lineno for d in old.decorator_list)
        if new.decorator_list and old.decorator_list
        else old.lineno
    )
    end = old.end_lineno or old.lineno
    block = textwrap.dedent(_segment(code, new)).strip("\n").splitlines()
    placed = "".join(f"{indent}{line}\n" if line.strip() else "\n" for line in block)
    lines[start - 1 : end] = [placed]
    if constants:
        outer = classes[0] if classes else old
        at = min([outer.lineno, *(d.lineno for d in outer.decorator_list)]) - 1
        lines.insert(at, "\n".join(constants) + "\n\n\n")
    return "".join(lines)


def apply_diff_to(source: str, diff: str, repo_path: str, files: Collection[str] = ()) -> str:
    """``source`` with a unified diff of ``repo_path`` applied; every hunk must match.

    The hunk headers' line counts are recounted (models often get them wrong), and the
    diff's path may be a suffix of ``repo_path`` if it names no other file in ``files``.
    """
    text = _recount(diff.replace("\r\n", "\n"))
    try:
        patch = PatchSet(text if text.endswith("\n") else text + "\n")
    except UnidiffParseError as exc:
        raise ReplyRejected(f"the diff does not parse: {exc}") from None
    if len(patch) != 1:
        raise ReplyRejected(f"the diff touches {len(patch)} files, not only {repo_path}")
    patched = patch[0]
    if patched.is_added_file or patched.is_removed_file or patched.is_rename:
        raise ReplyRejected("the diff adds, removes or renames a file")
    paths = {_strip_prefix(patched.source_file), _strip_prefix(patched.target_file)}
    if not all(_names(path, repo_path, files) for path in paths):
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


def _unindent(line: str, width: int) -> str:
    stripped = len(line) - len(line.lstrip(" "))
    return line[min(width, stripped) :]


def _defines(body: str, qualname: str) -> bool:
    try:
        tree = ast.parse(textwrap.dedent(body))
    except SyntaxError:
        return False
    return _reply_definition(tree, qualname) is not None


def _reply_definition(tree: ast.Module, qualname: str) -> Function | None:
    """The target's def in a reply: at its place in a whole module, or alone at top level."""
    found = find_def(tree, qualname)
    if found is not None:
        return found[0]
    name = qualname.rsplit(".", 1)[-1]
    tops = [n for n in tree.body if isinstance(n, Function) and n.name == name]
    return tops[-1] if tops else None


def _segment(code: str, node: Function) -> str:
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return "\n".join(code.splitlines()[start - 1 : node.end_lineno or node.lineno])


def _new_constants(reply: ast.Module, new: Function, base: ast.Module, code: str) -> list[str]:
    """The reply's module-level statements besides the target: what the base already
    defines is ignored (a whole-module reply); a new name bound to a literal value that the
    new def reads is kept (its text is returned); anything else is refused."""
    defined = {name for node in base.body for name in _bound(node)}
    same = {ast.dump(node) for node in base.body}
    reads = {n.id for n in ast.walk(new) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    kept: list[str] = []
    for node in reply.body:
        if node is new or any(child is new for child in ast.walk(node)):
            continue
        if ast.dump(node) in same or (_bound(node) and _bound(node) <= defined):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a stray string: no effect
        if _is_main_guard(node):
            continue  # a demo that runs only as a script, never on import
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise ReplyRejected(
                f"the python block adds an import ({ast.unparse(node)}); "
                "only the module's own imports may be used"
            )
        names = _bound(node)
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if not names or value is None or isinstance(node, ast.AugAssign):
            first = ast.unparse(node).splitlines()[0]
            raise ReplyRejected(
                f"the python block holds more than the function and its constants: {first}"
            )
        if not _is_literal(value):
            raise ReplyRejected(
                f"the python block's {', '.join(sorted(names))} is not a literal value"
            )
        unused = sorted(names - reads)
        if unused:
            raise ReplyRejected(f"the new {new.name} does not use {', '.join(unused)}")
        kept.append(ast.get_source_segment(code, node) or ast.unparse(node))
    return kept


def _is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":``."""
    test = node.test if isinstance(node, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and [type(op) for op in test.ops] == [ast.Eq]
        and [ast.literal_eval(c) for c in test.comparators if isinstance(c, ast.Constant)]
        == ["__main__"]
    )


def _bound(node: ast.stmt) -> set[str]:
    """The module-level names a statement binds."""
    if isinstance(node, Function | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    if not all(isinstance(t, ast.Name | ast.Tuple) for t in targets):
        return set()
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _is_literal(value: ast.expr) -> bool:
    """A literal, or ``frozenset``/``set``/``tuple`` of one: evaluated without side effects."""
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in _LITERAL_CALLS
        and not value.keywords
        and len(value.args) <= 1
    ):
        return all(_is_literal(arg) for arg in value.args)
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _recount(diff: str) -> str:
    """``diff`` with each hunk header's line counts set to the lines the hunk holds (a blank
    line in a hunk is a blank context line that lost its leading space)."""
    lines = diff.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        header = _HUNK.match(lines[index])
        out.append(lines[index])
        index += 1
        if header is None:
            continue
        body: list[str] = []
        old = new = 0
        while index < len(lines):
            line = lines[index]
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if _HUNK.match(line) or line.startswith("diff --git"):
                break
            if line.startswith("--- ") and following.startswith("+++ "):
                break
            if line == "" and index == len(lines) - 1:
                break
            line = line or " "
            if line[0] not in " +-\\":
                break
            old += line[0] in " -"
            new += line[0] in " +"
            body.append(line)
            index += 1
        out[-1] = f"@@ -{header[1]},{old} +{header[2]},{new} @@{header[3]}"
        out.extend(body)
    return "\n".join(out)


def _names(path: str, repo_path: str, files: Collection[str]) -> bool:
    """Whether a diff's ``path`` means ``repo_path``: the same, or a suffix of it (whole
    folders) that no other file of the repository ends with."""
    if path == repo_path:
        return True
    matching = {f for f in {*files, repo_path} if f == path or f.endswith("/" + path)}
    return matching == {repo_path}


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


def _signature(node: Function) -> str:
    kind = "async" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = ast.dump(node.returns) if node.returns else ""
    return f"{kind} {ast.dump(node.args)} -> {returns}"


def _decorators(node: Function) -> list[str]:
    return [ast.dump(d) for d in node.decorator_list]


def _same_signature(old: Function, new: Function) -> None:
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
    found = find_def(tree, qualname)
    if found is None:
        raise ReplyRejected(f"the changed file no longer defines {qualname}")
    base = find_def(ast.parse(source), qualname)
    if base is not None:
        _same_signature(base[0], found[0])
        if _decorators(base[0]) != _decorators(found[0]):
            raise ReplyRejected("the change alters the decorators")
    if new_source == source:
        raise ReplyRejected("the reply changes nothing")
