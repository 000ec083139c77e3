"""Ruff's maintained fixes as candidates: the rules whose fix can make code faster.

Ruff runs on the target file's text (stdin, ``--isolated`` so the project's own ruff config
neither adds rules nor ignores ours, ``--preview`` for the rules that need it, unsafe fixes
allowed) through the sandbox. First one JSON run finds the curated rules that fire inside
the target function with every edit of their fix inside its lines; then each such rule, and
all of them together, run with ``--fix``, and only the changed lines inside the function
are kept. Unsafe fixes may change behaviour on inputs ruff cannot see (a ``set`` literal
raises on an unhashable element where a list scan did not): the gates decide, as for any
candidate, with the captured calls and the tests.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core import sandbox
from bot.core.request import Request
from bot.core.source_marks import find_def

COMBINED = "ruff-combined"
_IMPORT = re.compile(r"(import |from \S+ import )")
BASE_ARGS = ("check", "--isolated", "--no-cache", "--preview", "--unsafe-fixes")

# Code -> why its fix is faster. Each fix was timed before and after on small cases on
# CPython 3.11 and 3.13 with the same results, by a helper session whose table sits beside
# the issue; rules not faster on both were left out, and so were FURB177 (``Path.cwd()``
# does not resolve symlinks as ``Path().resolve()`` did: invisible to the tests) and
# PERF401/PERF403 (the codemods build the comprehension; ruff's ``extend`` form is slower).
WHY: dict[str, str] = {
    "B009": "plain attribute access skips the getattr call",
    "B010": "plain attribute assignment skips the setattr call",
    "C400": "a list comprehension skips the generator and the list() call",
    "C401": "a set comprehension skips the generator and the set() call",
    "C402": "a dict comprehension skips building a tuple per item for dict()",
    "C403": "a set comprehension skips the intermediate list",
    "C404": "a dict comprehension skips the intermediate list of pairs",
    "C405": "a set literal skips building a list or tuple first",
    "C406": "a dict literal skips building a list of pairs first",
    "C408": "a literal skips the global lookup and call of dict()/list()/tuple()",
    "C409": "a tuple literal skips building a list first",
    "C410": "the list literal alone skips a second copy",
    "C411": "the list comprehension alone skips a second copy",
    "C414": "the outer call reads the iterable directly, skipping an inner copy",
    "C416": "list()/set()/dict() of the iterable skips an identity comprehension",
    "C417": "a comprehension skips a lambda call per item",
    "C418": "the dict literal alone skips a second copy",
    "C419": "any()/all() over a generator stop at the first decisive item",
    "C420": "dict.fromkeys skips a comprehension step per key",
    "E711": "an identity test with None skips the __eq__ call",
    "FLY002": "an f-string skips building a list for str.join",
    "FURB105": "print() without an empty string skips writing it",
    "FURB118": "an operator function skips a Python-level lambda call per use",
    "FURB131": "list.clear() skips building and deleting a full slice",
    "FURB140": "itertools.starmap skips unpacking each tuple in Python",
    "FURB142": "set.update() adds every item in one call instead of one call per item",
    "FURB145": "list.copy() skips the generic slice machinery",
    "FURB148": "iterating the sequence itself skips building an index per item",
    "FURB157": "a Decimal from a literal number skips parsing a string",
    "FURB161": "int.bit_count() skips formatting the number as a string",
    "FURB162": "fromisoformat reads the Z suffix itself, skipping a string replace",
    "FURB163": "math.log2/log10 skip the division by a second logarithm",
    "FURB164": "the Fraction/Decimal constructor skips a class-method lookup",
    "FURB166": "int(s, 0) skips slicing the prefix off",
    "FURB168": "an identity test skips the isinstance call",
    "FURB169": "an identity test skips the type() call",
    "FURB171": "an equality test skips building a one-item container",
    "FURB181": "hexdigest() skips building the bytes and converting them",
    "FURB187": "list.reverse() reverses in place instead of copying",
    "FURB188": "str.removeprefix/removesuffix skip the test and the slice",
    "FURB192": "min()/max() find one item in linear time instead of sorting",
    "PERF101": "iterating the sequence itself skips copying it into a new list first",
    "PERF102": "iterating keys() or values() skips building a tuple per item",
    "PIE800": "one dict display skips unpacking an inner one",
    "PIE804": "keyword arguments skip building and unpacking a dict",
    "PIE807": "the list type skips a lambda call per missing key",
    "PIE810": "one startswith/endswith with a tuple skips a call per prefix",
    "PLC0207": "a split with maxsplit stops after the part it needs",
    "PLC0208": "iterating a tuple skips hashing the items into a set",
    "PLC1802": "the truth test skips the len() call",
    "PLC2801": "the operator skips looking the dunder method up by name",
    "PLR1712": "tuple swapping skips a temporary variable",
    "PLR1714": "one membership test replaces a chain of equality tests",
    "PLR1733": "the loop's own value skips indexing the dict again",
    "PLR1736": "the loop's own value skips indexing the list again",
    "PLR6104": "augmented assignment updates in place instead of building a new object",
    "PLR6201": "a set literal is one hash lookup instead of a linear scan",
    "PLW0108": "the function itself skips a lambda call per use",
    "PLW3301": "one min()/max() call skips a nested call",
    "RET504": "returning the value skips storing it in a variable first",
    "RSE102": "raising the class skips an explicit empty call",
    "RUF010": "a conversion flag skips the str()/repr() call",
    "RUF015": "next(iter(...)) takes one item instead of building the whole list",
    "RUF017": "functools.reduce with operator.iadd skips quadratic list copying",
    "RUF019": "dict.get skips the second lookup",
    "RUF037": "an empty deque skips building an empty list",
    "RUF046": "the redundant int() call goes",
    "RUF050": "an empty if goes",
    "RUF055": "a str method skips compiling and running a regular expression",
    "RUF056": "dict.get's own default skips passing one",
    "RUF057": "rounding an int to an int goes",
    "RUF070": "yielding the value skips storing it in a variable first",
    "SIM114": "one test with or skips repeating the same branch",
    "SIM118": "key in dict skips building the keys view",
    "SIM201": "!= skips negating an == result",
    "SIM202": "== skips negating a != result",
    "SIM211": "not skips a conditional expression",
    "SIM401": "dict.get skips the second lookup",
    "SIM905": "a list literal skips splitting a string on every call",
    "SIM911": "dict.items() skips zipping keys() and values()",
    "UP003": "the builtin type skips calling type() on a literal",
    "UP012": "a bytes literal skips encoding a string on every call",
    "UP018": "a literal skips calling str()/int()/float()/bool() on one",
    "UP030": "automatic field numbering skips parsing the indices",
    "UP032": "an f-string skips the str.format method call",
}
RULES = tuple(WHY)


@dataclass(frozen=True)
class RuffRewrite:
    """One proposed change: ruff's rule name (kebab-case), why it helps, the new module."""

    rule: str
    code: str
    description: str
    source: str


def ruff_rewrites(request: Request, source: str, qualname: str, filename: str) -> list[RuffRewrite]:
    """One rewrite per curated rule whose fix changes ``qualname`` only, plus their union.

    ``filename`` (project-relative) lets ruff infer the file kind; it is never read. Returns
    [] when the function is not found, ruff fails or nothing applies; never raises.
    """
    span = function_span(source, qualname)
    if span is None:
        return []
    fixable, unsafe = _fixable(request, source, filename, span)
    found: list[RuffRewrite] = []
    for code, name in fixable.items():
        new = _fixed(request, source, filename, span, [code])
        if new is not None:
            found.append(RuffRewrite(name, code, _describe(code, name), new))
    if found:
        # Every curated rule at once, so a fix that one rule's fix enables is made too
        # (PERF102's ``d.keys()`` becomes SIM118's ``d``); not the rules with outside edits.
        new = _fixed(request, source, filename, span, [c for c in RULES if c not in unsafe])
        if new is not None and all(new != r.source for r in found):
            codes = "+".join(r.code for r in found)
            description = f"Applies ruff's {codes} fixes together, and what they enable, " + (
                "each for the reason given in its own candidate."
            )
            found.append(RuffRewrite(COMBINED, codes, description, new))
    return found


def function_span(source: str, qualname: str) -> tuple[int, int] | None:
    """The first and last line (1-based) of the def ``qualname``, decorators included."""
    try:
        found = find_def(ast.parse(source), qualname)
    except (SyntaxError, ValueError):
        return None
    node = found[0] if found else None
    if node is None or node.end_lineno is None:
        return None
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return first, node.end_lineno


def target_version(request: Request) -> str | None:
    """Ruff's ``pyNN`` for the oldest Python the project supports (``requires-python``).

    ``--isolated`` keeps ruff from reading it; without it a fix could use a newer feature
    (``int.bit_count``, ``str.removeprefix``) than the project promises to run on.
    """
    path = request.project_path(request.repo_root) / "pyproject.toml"
    try:
        project = tomllib.loads(path.read_text()).get("project", {})
    except (OSError, ValueError):
        return None
    found = re.search(r">=?\s*3\.(\d+)", str(project.get("requires-python", "")))
    return f"py3{found.group(1)}" if found else None


def _ruff(request: Request, args: Sequence[str], source: str, filename: str) -> str | None:
    version = target_version(request)
    pinned = ["--target-version", version] if version else []
    argv = [sys.executable, "-m", "ruff", *args, *pinned, "--stdin-filename", filename, "-"]
    cwd = request.repo_root
    done = sandbox.run(
        argv,
        cwd,
        timeout=request.limits.tool_timeout,
        kind="ruff",
        stdin=source,
        request=request,
    )
    return done.stdout if done.returncode in (0, 1) and not done.timed_out else None


def _fixable(
    request: Request, source: str, filename: str, span: tuple[int, int]
) -> tuple[dict[str, str], set[str]]:
    """Code -> rule name of the curated rules with a fix wholly inside ``span``, and the
    codes with a fix that reaches both into and out of it."""
    args = [*BASE_ARGS, "--select", ",".join(RULES), "--output-format", "json", "--exit-zero"]
    output = _ruff(request, args, source, filename)
    try:
        report = json.loads(output) if output else []
    except ValueError:
        return {}, set()
    lines = source.splitlines(keepends=True)
    inside: dict[str, str] = {}
    outside: set[str] = set()
    for item in report if isinstance(report, list) else []:
        fix = item.get("fix") if isinstance(item, dict) else None
        if not fix or not fix.get("edits"):
            continue
        edits = [e for e in fix["edits"] if not _no_op(lines, e) and not _imports(lines, e)]
        edits = edits or fix["edits"]
        rows = [e["location"]["row"] for e in edits] + [e["end_location"]["row"] for e in edits]
        code = str(item.get("code"))
        if span[0] <= min(rows) and max(rows) <= span[1]:
            inside[code] = str(item.get("name") or code.lower())
        elif min(rows) <= span[1] and max(rows) >= span[0]:
            outside.add(code)  # half of this fix would be dropped
    return {c: inside[c] for c in RULES if c in inside and c not in outside}, outside


def _no_op(lines: list[str], edit: dict[str, Any]) -> bool:
    """True when ``edit`` writes back the text it replaces (ruff re-emitting an import)."""
    start, end = edit["location"], edit["end_location"]
    if start["row"] != end["row"] or not 0 < start["row"] <= len(lines):
        return False
    line = lines[start["row"] - 1]
    return bool(line[start["column"] - 1 : end["column"] - 1] == edit.get("content"))


def _imports(lines: list[str], edit: dict[str, Any]) -> bool:
    """True when ``edit`` only adds or rewrites top-level import lines (``import operator``
    for FURB118's fix): :func:`keep_inside` keeps those, wherever they are."""
    start, end = edit["location"], edit["end_location"]
    written = str(edit.get("content", "")).splitlines()
    replaced = lines[start["row"] - 1 : end["row"] - 1] if end["row"] > start["row"] else []
    return (
        start["column"] == 1
        and any(_IMPORT.match(line) for line in written)
        and all(_IMPORT.match(line) or not line.strip() for line in [*written, *replaced])
    )


def _fixed(
    request: Request, source: str, filename: str, span: tuple[int, int], codes: list[str]
) -> str | None:
    """``source`` with ruff's fixes for ``codes`` kept only inside ``span``; None if none."""
    args = [*BASE_ARGS, "--fix-only", "--exit-zero", "--select", ",".join(codes)]
    fixed = _ruff(request, args, source, filename)
    if not fixed:
        return None
    new = _without_new_unused_imports(request, source, keep_inside(source, fixed, span), filename)
    try:
        ast.parse(new)
    except SyntaxError:
        return None
    return new if new != source else None


def _without_new_unused_imports(request: Request, old: str, new: str, filename: str) -> str:
    """``new`` without the imports it leaves unused that ``old`` used (or did not have).

    :func:`keep_inside` keeps every import a fix adds, but the fix that needed one may lie
    outside the function (tabulate: ``from itertools import starmap`` came with a fix that
    was dropped), and a fix inside may remove an import's last use: the style gate would
    reject the candidate for the unused import.
    """
    found = _unused_imports(request, new, filename)
    if found:
        before = {str(d.get("message")) for d in _unused_imports(request, old, filename)}
        edits = [
            edit
            for d in found
            if str(d.get("message")) not in before
            for edit in (d.get("fix") or {}).get("edits", [])
        ]
        new = _apply_edits(new, edits)
    return new


def _unused_imports(request: Request, source: str, filename: str) -> list[dict[str, Any]]:
    args = [*BASE_ARGS, "--select", "F401", "--output-format", "json", "--exit-zero"]
    output = _ruff(request, args, source, filename)
    try:
        report = json.loads(output) if output else []
    except ValueError:
        return []
    return [d for d in report if isinstance(d, dict)] if isinstance(report, list) else []


def _apply_edits(source: str, edits: Sequence[dict[str, Any]]) -> str:
    """``source`` with ruff's ``edits`` (1-based rows and columns) made, last first; an edit
    that overlaps one already made is skipped."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(point: dict[str, int]) -> int:
        row = min(max(point["row"], 1), len(starts))
        return starts[row - 1] + point["column"] - 1

    spans = sorted(
        (
            (offset(e["location"]), offset(e["end_location"]), str(e.get("content") or ""))
            for e in edits
        ),
        reverse=True,
    )
    limit = len(source) + 1
    for start, end, content in spans:
        if end > limit:
            continue
        source = source[:start] + content + source[end:]
        limit = start
    return source


def keep_inside(old: str, new: str, span: tuple[int, int]) -> str:
    """``old`` with only the changes of ``new`` that replace lines inside ``span``, and
    those that add or rewrite top-level import lines (a fix inside may need them)."""
    before = old.splitlines(keepends=True)
    after = new.splitlines(keepends=True)
    first, last = span[0] - 1, span[1]  # 0-based, half open
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        inside = first <= i1 and i2 <= last and (i1 < i2 or first < i1 < last)
        if tag != "equal" and not inside and _only_imports(before[i1:i2], after[j1:j2]):
            out.extend(after[j1:j2])
        elif tag == "replace" and not inside and i2 - i1 == j2 - j1:
            # one change block across the border: line by line, each on its own side
            out.extend(after[j] if first <= i < last else before[i] for i, j in _pairs(i1, j1, i2))
        else:
            out.extend(after[j1:j2] if tag != "equal" and inside else before[i1:i2])
    return "".join(out)


def _only_imports(removed: list[str], added: list[str]) -> bool:
    lines = [*removed, *added]
    return any(_IMPORT.match(line) for line in added) and all(
        _IMPORT.match(line) or not line.strip() for line in lines
    )


def _pairs(i1: int, j1: int, i2: int) -> list[tuple[int, int]]:
    return [(i1 + k, j1 + k) for k in range(i2 - i1)]


def _describe(code: str, name: str) -> str:
    why = WHY.get(code, "ruff marks this pattern as slower")
    return f"Applies ruff's {code} ({name}) fix: {why}."
