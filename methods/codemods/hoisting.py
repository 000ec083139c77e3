"""Reading something once before a loop: the edits every hoisting rule makes.

A rule decides what to hoist; these put ``name = value`` lines right before the loop
(taking over the comments and blank lines above it) and put the name where the value was.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import (
    ExpressionContextProvider,
    ParentNodeProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from methods.codemods.base import TargetedCodemod
from methods.codemods.module_names import fresh_name, taken_names


class LoopHoisting(TargetedCodemod):
    """The frame of a rule that reads things once before a loop.

    A rule fills ``replaced`` (id of an expression -> the local read instead) and answers
    :meth:`hoisted_lines` for each statement of a block; this class makes the edits.
    """

    METADATA_DEPENDENCIES = (
        ExpressionContextProvider,
        ParentNodeProvider,
        QualifiedNameProvider,
        ScopeProvider,
    )
    QUICK_CHECK = m.For() | m.While()

    def __init__(self, context: CodemodContext, target_qualname: str) -> None:
        super().__init__(context, target_qualname)
        self.tree = cst.Module([])
        self.replaced: dict[int, str] = {}
        self._taken: set[str] | None = None

    def visit_Module(self, node: cst.Module) -> None:
        self.tree = node

    def fresh(self, base: str) -> str:
        """``base``, numbered when the module or the builtins already use that name."""
        if self._taken is None:
            self._taken = taken_names(self.tree)
        return fresh_name(base, self._taken)

    def hoisted_lines(self, statement: cst.BaseStatement) -> list[cst.SimpleStatementLine]:
        """The lines to put before ``statement`` (a loop of the original tree)."""
        return []

    def read(self, original: cst.BaseExpression, updated: cst.BaseExpression) -> cst.BaseExpression:
        return read_of(self.replaced.get(id(original)), updated)

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        return with_hoisted(original_node, updated_node, self.hoisted_lines)


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
