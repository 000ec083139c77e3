"""Mutation operators (libcst): small deliberate bugs inside one target function.

Each operator is a plain function that looks at one node of the target function and says
how it could be broken: a flipped comparison, a swapped arithmetic operator, a constant off
by one, a negated condition, ``return None`` instead of a value, a statement removed, or a
fault injected where the function calls out (the call raises, times out or comes back
empty). A mutant the test suite does not notice marks behaviour the suite does not defend.

:func:`sentinel` is the bug every suite that runs the function must notice (the function
raises at entry): if the suite still passes with it, the setup cannot tell a mutant from the
original (an installed copy imported instead of the checkout, say) and every result would
be a lie.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

SENTINEL_MESSAGE = "selfimprove sentinel mutant: this function must never run"
FAULT_MESSAGE = "selfimprove: injected fault"
_BUILTIN_NAMES = frozenset(dir(builtins))
# Methods of the values a function works on (containers, strings): not where faults come from.
_LOCAL_METHODS = frozenset(
    [
        "append",
        "extend",
        "insert",
        "add",
        "discard",
        "remove",
        "pop",
        "popitem",
        "clear",
        "update",
        "setdefault",
        "get",
        "items",
        "keys",
        "values",
        "copy",
        "sort",
        "reverse",
        "count",
        "index",
        "join",
        "split",
        "rsplit",
        "splitlines",
        "strip",
        "lstrip",
        "rstrip",
        "lower",
        "upper",
        "casefold",
        "title",
        "replace",
        "format",
        "startswith",
        "endswith",
        "find",
        "rfind",
        "encode",
        "decode",
        "isdigit",
        "isalpha",
        "isalnum",
        "isspace",
    ]
)


class MutationError(ValueError):
    """The source does not parse, or the target function is not defined in it."""


@dataclass(frozen=True)
class Mutant:
    """The whole module's text with one deliberate bug in the target function."""

    operator: str
    line: int
    description: str
    source: str

    @property
    def label(self) -> str:
        return f"{self.operator} on line {self.line}: {self.description}"


Change = tuple[cst.CSTNode, str]
"""A replacement node for the node an operator looked at, and what it changed."""
Operator = Callable[[cst.CSTNode], list[Change]]

_COMPARISON_FLIPS: dict[type[cst.BaseCompOp], type[cst.BaseCompOp]] = {
    cst.LessThan: cst.LessThanEqual,
    cst.LessThanEqual: cst.LessThan,
    cst.GreaterThan: cst.GreaterThanEqual,
    cst.GreaterThanEqual: cst.GreaterThan,
    cst.Equal: cst.NotEqual,
    cst.NotEqual: cst.Equal,
}
_ARITHMETIC_SWAPS: dict[type[cst.BaseBinaryOp], type[cst.BaseBinaryOp]] = {
    cst.Add: cst.Subtract,
    cst.Subtract: cst.Add,
    cst.Multiply: cst.Divide,
    cst.Divide: cst.Multiply,
    cst.FloorDivide: cst.Multiply,
    cst.Modulo: cst.FloorDivide,
}
_AUGMENTED_SWAPS: dict[type[cst.BaseAugOp], type[cst.BaseAugOp]] = {
    cst.AddAssign: cst.SubtractAssign,
    cst.SubtractAssign: cst.AddAssign,
    cst.MultiplyAssign: cst.DivideAssign,
    cst.DivideAssign: cst.MultiplyAssign,
}
_EMPTY = cst.Module(body=())
_OpT = TypeVar("_OpT", bound=cst.CSTNode)


def _respaced(kind: type[_OpT], old: cst.CSTNode) -> _OpT:
    """A new operator of ``kind`` with the spacing of the ``old`` one."""
    spacing = {k: getattr(old, k) for k in ("whitespace_before", "whitespace_after")}
    return kind(**spacing)


def _text(node: cst.CSTNode, limit: int = 60) -> str:
    """The node's source on one line, cut to ``limit`` characters (for descriptions)."""
    flat = " ".join(_EMPTY.code_for_node(node).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def comparison_flip(node: cst.CSTNode) -> list[Change]:
    """``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``==`` ↔ ``!=``: the off-by-one at a boundary."""
    if not isinstance(node, cst.ComparisonTarget):
        return []
    flipped = _COMPARISON_FLIPS.get(type(node.operator))
    if flipped is None:
        return []
    old = node.operator
    new = _respaced(flipped, old)
    return [(node.with_changes(operator=new), f"`{_text(old)}` -> `{_text(new)}`")]


def arithmetic_swap(node: cst.CSTNode) -> list[Change]:
    """``+`` ↔ ``-``, ``*`` ↔ ``/`` (and ``+=`` ↔ ``-=``, ...): the wrong operation."""
    if isinstance(node, cst.BinaryOperation):
        swapped = _ARITHMETIC_SWAPS.get(type(node.operator))
        if swapped is None:
            return []
        old: cst.CSTNode = node.operator
        new: cst.CSTNode = _respaced(swapped, old)
        return [(node.with_changes(operator=new), f"`{_text(old)}` -> `{_text(new)}`")]
    if isinstance(node, cst.AugAssign):
        augmented = _AUGMENTED_SWAPS.get(type(node.operator))
        if augmented is None:
            return []
        old = node.operator
        new = _respaced(augmented, old)
        return [(node.with_changes(operator=new), f"`{_text(old)}` -> `{_text(new)}`")]
    return []


def constant_shift(node: cst.CSTNode) -> list[Change]:
    """An integer constant plus one and minus one (never below zero: no new minus sign)."""
    if not isinstance(node, cst.Integer):
        return []
    value = int(node.value, 0)
    shifted = [value + 1, value - 1] if value > 0 else [value + 1]
    return [(node.with_changes(value=str(n)), f"`{node.value}` -> `{n}`") for n in shifted]


def condition_negation(node: cst.CSTNode) -> list[Change]:
    """The condition of an ``if``/``elif``/``while``/conditional expression negated."""
    if not isinstance(node, (cst.If, cst.While, cst.IfExp)):
        return []
    test = node.test
    negated = cst.UnaryOperation(
        operator=cst.Not(),
        expression=test.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]),
    )
    keyword = {cst.If: "if", cst.While: "while", cst.IfExp: "conditional"}[type(node)]
    return [(node.with_changes(test=negated), f"{keyword} `{_text(test)}` -> `not (...)`")]


def return_none(node: cst.CSTNode) -> list[Change]:
    """``return x`` -> ``return None``: a result the caller may never look at."""
    if not isinstance(node, cst.Return) or node.value is None:
        return []
    if isinstance(node.value, cst.Name) and node.value.value == "None":
        return []
    return [(node.with_changes(value=cst.Name("None")), f"`{_text(node)}` -> `return None`")]


def statement_removal(node: cst.CSTNode) -> list[Change]:
    """A simple statement replaced by ``pass`` (returns have :func:`return_none`)."""
    if not isinstance(node, cst.SimpleStatementLine):
        return []
    kept = (cst.Pass, cst.Return)
    if all(isinstance(s, kept) for s in node.body) or _is_docstring(node):
        return []
    removed = _text(node.with_changes(leading_lines=()))
    return [(node.with_changes(body=[cst.Pass()]), f"`{removed}` removed")]


def call_fault(node: cst.CSTNode) -> list[Change]:
    """A call site that fails the way I/O does: it raises ``OSError``, it times out
    (``TimeoutError``), or it comes back empty (``None``).

    Only calls out of the function count (a project or library function, a method that
    is not a plain container or string operation): those are where faults come from.
    """
    if not isinstance(node, cst.Call) or not _is_call_out(node.func):
        return []
    called = _text(node.func, 40)
    faults = (
        ("OSError", "raises OSError"),
        ("TimeoutError", "times out (TimeoutError)"),
    )
    changes: list[Change] = [
        (
            cst.parse_expression(f"(_ for _ in ()).throw({kind}({FAULT_MESSAGE!r}))"),
            f"`{called}(...)` {what}",
        )
        for kind, what in faults
    ]
    changes.append((cst.Name("None"), f"`{called}(...)` comes back empty (None)"))
    return changes


def _is_call_out(func: cst.BaseExpression) -> bool:
    if isinstance(func, cst.Name):
        return func.value not in _BUILTIN_NAMES
    if isinstance(func, cst.Attribute):
        return func.attr.value not in _LOCAL_METHODS
    return False


def _is_docstring(node: cst.SimpleStatementLine) -> bool:
    return (
        len(node.body) == 1
        and isinstance(node.body[0], cst.Expr)
        and isinstance(node.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


OPERATORS: dict[str, Operator] = {
    "comparison-flip": comparison_flip,
    "arithmetic-swap": arithmetic_swap,
    "constant-shift": constant_shift,
    "condition-negation": condition_negation,
    "return-none": return_none,
    "statement-removal": statement_removal,
    "call-fault": call_fault,
}


class _Nodes(cst.CSTVisitor):
    """Every node inside one function, in source order."""

    def __init__(self) -> None:
        self.found: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.found.append(node)
        return True


def _parse(source: str) -> MetadataWrapper:
    try:
        return MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError as exc:
        raise MutationError(f"the file does not parse: {exc.message}") from None


def _statements(body: Sequence[cst.CSTNode]) -> list[cst.CSTNode]:
    """``body``'s statements in source order, with those inside its if/try/with blocks
    (their defs bind names of the module or class: a fallback under ``except ImportError``)."""
    found: list[cst.CSTNode] = []
    for node in body:
        found.append(node)
        blocks: list[cst.CSTNode | None] = []
        if isinstance(node, cst.If):
            blocks = [node.body, node.orelse]
        elif isinstance(node, cst.Try | cst.TryStar):
            blocks = [node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody]
        elif isinstance(node, cst.With):
            blocks = [node.body]
        for block in blocks:
            if isinstance(block, cst.If):  # elif
                found += _statements([block])
            elif block is not None:
                inner = getattr(block, "body", None)
                inner = getattr(inner, "body", inner)  # Else/Finally hold an IndentedBlock
                found += _statements(inner if isinstance(inner, Sequence) else ())
    return found


def find_function(module: cst.Module, qualname: str) -> cst.FunctionDef:
    """The definition of ``func`` or ``Class.method`` (the last one, as Python binds it)."""
    parts = [p for p in qualname.split(".") if p]
    scope: Sequence[cst.CSTNode] = module.body
    found: cst.FunctionDef | None = None
    for depth, name in enumerate(parts):
        last = depth == len(parts) - 1
        kind = cst.FunctionDef if last else cst.ClassDef
        matches = [n for n in _statements(scope) if isinstance(n, kind) and n.name.value == name]
        if not matches:
            raise MutationError(f"no definition of {qualname} in the file")
        if last:
            found = matches[-1]  # type: ignore[assignment]
        else:
            body = matches[-1].body
            scope = body.body if isinstance(body, cst.IndentedBlock) else ()
    assert found is not None
    return found


def mutants(source: str, qualname: str, limit: int | None = None) -> list[Mutant]:
    """Every mutant of the function ``qualname`` in ``source``, in source order.

    With ``limit``, an evenly spread sample of that many (the same one every time).
    """
    wrapper = _parse(source)
    function = find_function(wrapper.module, qualname)
    positions = wrapper.resolve(PositionProvider)
    visitor = _Nodes()
    function.body.visit(visitor)
    sites: list[tuple[cst.CSTNode, str, cst.CSTNode, str]] = []
    for node in visitor.found:
        for operator, mutate in OPERATORS.items():
            for replacement, description in mutate(node):
                sites.append((node, operator, replacement, description))
    if limit is not None and len(sites) > limit:
        sites = [sites[i * len(sites) // limit] for i in range(limit)]
    found: list[Mutant] = []
    for node, operator, replacement, description in sites:
        changed = wrapper.module.deep_replace(node, replacement)
        assert isinstance(changed, cst.Module)
        line = positions[node].start.line
        found.append(Mutant(operator, line, description, changed.code))
    return found


def sentinel(source: str, qualname: str) -> Mutant:
    """The mutant every suite that calls the function must kill: it raises at entry."""
    wrapper = _parse(source)
    function = find_function(wrapper.module, qualname)
    line = wrapper.resolve(PositionProvider)[function].start.line
    raising = cst.parse_statement(f"raise RuntimeError({SENTINEL_MESSAGE!r})\n")
    assert isinstance(raising, cst.SimpleStatementLine)
    body = function.body
    new_body: cst.BaseSuite
    if isinstance(body, cst.IndentedBlock):
        new_body = body.with_changes(body=[raising, *body.body])
    else:
        assert isinstance(body, cst.SimpleStatementSuite)
        lines = [cst.SimpleStatementLine(body=[s]) for s in body.body]
        new_body = cst.IndentedBlock(body=[raising, *lines])
    changed = wrapper.module.deep_replace(function, function.with_changes(body=new_body))
    assert isinstance(changed, cst.Module)
    return Mutant("sentinel", line, "raises RuntimeError at entry", changed.code)
