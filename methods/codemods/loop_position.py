"""Where an expression sits relative to the loops of its function.

The hoisting rule needs the outermost loop around an access and whether the access runs
on every step of it: inside a loop body or ``while`` test and under no ``if``, ``try``,
``match``, short-circuit, conditional expression, ``assert`` or filtered comprehension.
Nested inner loops are fine (how often they run does not depend on the attribute).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from methods.codemods.analysis import ancestors
from methods.codemods.base import TargetedCodemod

_OWN_SCOPE = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
_GUARDS = (
    cst.Try,
    cst.TryStar,
    cst.ExceptHandler,
    cst.ExceptStarHandler,
    cst.Match,
    cst.MatchCase,
    cst.Assert,
)
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


@dataclass(frozen=True)
class Position:
    """The outermost loop around a node, and whether the node runs on each of its steps."""

    loop: cst.For | cst.While
    every_step: bool


def loop_position(
    codemod: TargetedCodemod, node: cst.CSTNode, func: cst.FunctionDef
) -> Position | None:
    """``node``'s place in ``func``'s loops; None outside loops or in a nested scope."""
    outermost: cst.For | cst.While | None = None
    repeated = guarded = guarded_in_loop = False
    child = node
    for parent in ancestors(codemod, node):
        if parent is func:
            break
        if isinstance(parent, _OWN_SCOPE):
            return None
        if isinstance(parent, cst.For | cst.While):
            outermost = parent
            step = parent.body if isinstance(parent, cst.For) else parent.test
            repeated |= child is parent.body or child is step
            guarded |= child is parent.orelse
            guarded_in_loop = guarded  # guards above the outermost loop do not matter
        elif isinstance(parent, cst.If | cst.IfExp):
            guarded |= child is not parent.test
        elif isinstance(parent, cst.BooleanOperation):
            guarded |= child is parent.right
        elif isinstance(parent, _COMPREHENSIONS):
            guarded |= _filtered(parent.for_in)
        elif isinstance(parent, _GUARDS):
            guarded = True
        child = parent
    if outermost is None:
        return None
    return Position(outermost, repeated and not guarded_in_loop)


def _filtered(clause: cst.CompFor | None) -> bool:
    """True when a comprehension has an ``if`` clause anywhere in its ``for`` chain."""
    while clause is not None:
        if clause.ifs:
            return True
        clause = clause.inner_for_in
    return False
