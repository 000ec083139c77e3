"""Reading something once before a loop: the edits every hoisting rule makes.

A rule decides what to hoist; these put ``name = value`` lines right before the loop
(taking over the comments and blank lines above it) and put the name where the value was.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst


def assignment(name: str, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    """``name = value`` as a statement line."""
    target = cst.AssignTarget(cst.Name(name))
    return cst.SimpleStatementLine([cst.Assign([target], value.with_changes(lpar=(), rpar=()))])


def read_of(fresh: str | None, updated: cst.BaseExpression) -> cst.BaseExpression:
    """The local ``fresh`` in place of ``updated`` (its parentheses kept); as is for None."""
    if fresh is None:
        return updated
    return cst.Name(fresh, lpar=updated.lpar, rpar=updated.rpar)


def with_hoisted(
    original: cst.IndentedBlock,
    updated: cst.IndentedBlock,
    lines_for: Callable[[cst.BaseStatement], list[cst.SimpleStatementLine]],
) -> cst.IndentedBlock:
    """``updated`` with ``lines_for(original statement)`` before each loop that has some."""
    body: list[cst.BaseStatement] = []
    changed = False
    for old, new in zip(original.body, updated.body, strict=True):
        hoisted = lines_for(old)
        if hoisted and isinstance(new, cst.For | cst.While):
            hoisted[0] = hoisted[0].with_changes(leading_lines=new.leading_lines)
            new = new.with_changes(leading_lines=())
            body.extend(hoisted)
            changed = True
        body.append(new)
    return updated.with_changes(body=body) if changed else updated
