"""Write a pytest file that pins the base's behaviour on inputs where mutants differ.

Every value in it is source text that ``ast.literal_eval`` reads back as the same value
(the harness checked), so the file needs nothing but the target's import and pytest. A
method is called on a receiver rebuilt the way the suite built it (``engine().plural("cat")``),
a static or class method through its class; the harness says what to call and import. The
text is then put through the project's own ruff (``check --fix`` and ``format``), so it
meets the project's import order and layout like a file a person would commit.

A call that returns a generator is pinned by its items: ``assert list(f(x)) == [...]``,
or for a long one its first items, ``list(itertools.islice(f(x), k))``.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core import sandbox
from bot.core.baseline import Baseline
from bot.core.candidate import Target
from bot.core.path_policy import where_tests_live
from bot.core.request import Request
from methods.mutant_inputs import Disagreement, Outcome

_SINGLETONS = ("None", "True", "False")
_EMPTY = {"[]": "list[Any]", "{}": "dict[Any, Any]", "set()": "set[Any]"}
_NOT_A_NAME = re.compile(r"[^0-9a-zA-Z_]+")
_TEXT_LIMIT = 60


@dataclass(frozen=True)
class Case:
    """One test: an input where mutants differ from the base, and which mutants they are."""

    name: str
    mutants: tuple[str, ...]
    pinned: Disagreement

    def also_kills(self, mutant: str) -> Case:
        return Case(self.name, (*self.mutants, mutant), self.pinned)


def _short(text: str) -> str:
    """One line, no quotes or backslashes, short enough for a docstring."""
    flat = " ".join(text.split()).replace("\\", "/").replace('"', "'")
    return flat if len(flat) <= _TEXT_LIMIT else flat[: _TEXT_LIMIT - 3] + "..."


def _call(function: str, args: Sequence[str], kwargs: Sequence[tuple[str, str]]) -> str:
    return f"{function}({', '.join([*args, *(f'{k}={v}' for k, v in kwargs)])})"


def _expect(call: str, base: Outcome) -> list[str]:
    """Lines asserting what the base did on ``call``: its result, or its exception."""
    if base.kind == "raise":
        pattern = "^" + re.escape(base.error_message).replace("\\ ", " ") + "$"
        return [
            f"with pytest.raises({base.error_type}, match={pattern!r}):",
            f"    {call}",
        ]
    if base.by_type:
        module, _, qualname = base.result_type.partition(":")
        return [
            f"result = {call}",
            f"assert type(result).__module__ == {module!r}",
            f"assert type(result).__qualname__ == {qualname!r}",
        ]
    if base.result in _SINGLETONS:
        return [f"assert {call} is {base.result}"]
    return [f"assert {call} == {base.result}"]


def _taking(call: str, base: Outcome) -> str:
    """``call`` as a test takes what the base's call yielded: all of it, or the prefix the
    harness took (the first k items are still a fair pin of a longer generator)."""
    if base.yields is None:
        return call
    if base.exhausted:
        return f"list({call})"
    return f"list(itertools.islice({call}, {base.yields}))"


def _changeable(value: object) -> bool:
    """Whether a call could have changed this argument in place (worth asserting after)."""
    if isinstance(value, (list, dict, set)):
        return True
    return isinstance(value, tuple) and any(_changeable(item) for item in value)


def render_case(function: str, case: Case) -> str:
    """The source of one test function; ``function`` is called unless the harness said what."""
    base = case.pinned.base
    function = base.callee or function
    more = f" (and {len(case.mutants) - 1} more)" if len(case.mutants) > 1 else ""
    lines = [
        f"def {case.name}() -> None:",
        f'    """Kills the mutant {_short(case.mutants[0])}{more}."""',
    ]
    body = list(base.setup)
    if not case.pinned.only_in_arguments:
        body += _expect(_taking(_call(function, base.args, base.kwargs), base), base)
    else:
        after_args, after_kwargs = ast.literal_eval(base.after)
        names = [f"arg_{i}" for i in range(len(base.args))]
        keywords = [(k, f"kwarg_{k}") for k, _ in base.kwargs]
        body += [_assign(n, src) for n, src in zip(names, base.args, strict=True)]
        body += [_assign(n, src) for (_, n), (_, src) in zip(keywords, base.kwargs, strict=True)]
        call = _taking(_call(function, names, keywords), base)
        if base.kind == "return" and base.result == "None" and base.yields is None:
            body.append(call)  # `assert f(x) is None` is a mypy error where f returns None
        else:
            body += _expect(call, base)
        pairs = [*zip(names, after_args, strict=True), *((n, after_kwargs[k]) for k, n in keywords)]
        body += [f"assert {n} == {v!r}" for n, v in pairs if _changeable(v)]
    return "\n".join(lines + [f"    {line}" for line in body]) + "\n"


def _assign(name: str, source: str) -> str:
    """``name = source``; an empty container gets its type (``list[Any]``), for which
    mypy would otherwise ask ("Need type annotation") in a project that type-checks tests."""
    kind = _EMPTY.get(source.strip())
    return f"{name}: {kind} = {source}" if kind else f"{name} = {source}"


def _untyped_empty(case: Case) -> bool:
    """Whether the test assigns an empty container to a variable (it needs ``Any``)."""
    base = case.pinned.base
    values = [*base.args, *(src for _, src in base.kwargs)]
    return case.pinned.only_in_arguments and any(v.strip() in _EMPTY for v in values)


def render_file(target: Target, cases: Sequence[Case]) -> str:
    """The whole test file: a docstring, the imports, one test per case."""
    function = target.qualname
    header = [
        f'"""Regression tests written by selfimprove\'s chaos method for {target.key}.',
        "",
        "Each pins what the current code does on one input where a small deliberate change",
        "to the function, one the rest of the suite did not notice, behaves differently.",
        '"""',
    ]
    header.append("")
    if any(c.pinned.base.yields is not None and not c.pinned.base.exhausted for c in cases):
        header += ["import itertools", ""]
    if any(c.pinned.base.kind == "raise" for c in cases):
        header += ["import pytest", ""]
    if any(_untyped_empty(c) for c in cases):
        header += ["from typing import Any", ""]
    imports = sorted({i for c in cases for i in c.pinned.base.imports}) or [
        (target.module, function.split(".", 1)[0])
    ]
    header += [f"from {module} import {name}" for module, name in imports]
    header += ["", "", ""]
    return "\n".join(header) + "\n\n".join(render_case(function, c) for c in cases)


def case_name(target: Target, index: int) -> str:
    """``test_<function>_kills_mutant_<n>``, a valid identifier."""
    return f"test_{_NOT_A_NAME.sub('_', target.qualname).lower()}_kills_mutant_{index}"


def new_test_path(request: Request, baseline: Baseline, target: Target) -> str:
    """A project-relative path for the new test file that does not exist yet."""
    folder = where_tests_live(request, baseline)
    project = request.project_path(baseline.root)
    stem = "test_selfimprove_" + _NOT_A_NAME.sub("_", target.key).lower()
    name, number = f"{stem}.py", 1
    while (project / folder / name).exists():
        number += 1
        name = f"{stem}_{number}.py"
    return name if folder == "." else f"{folder}/{name}"


def tidy(request: Request, project: Path, relative: str, text: str) -> str:
    """``text`` after the project's ruff ``check --fix`` and ``format``; as is if ruff fails."""
    timeout = request.limits.tool_timeout
    for args in (("check", "--fix-only", "--exit-zero"), ("format",)):
        argv = [sys.executable, "-m", "ruff", *args, "--stdin-filename", relative, "-"]
        done = sandbox.run(argv, project, timeout=timeout, kind="ruff", stdin=text, request=request)
        if not done.ok or not done.stdout.strip():
            return text
        text = done.stdout
    return text
