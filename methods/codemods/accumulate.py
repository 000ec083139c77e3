"""The shape shared by the accumulator rules: ``acc = <empty>`` then ``for v in it: <add>``.

A rule says what its empty value looks like, how one loop step adds to the accumulator and
which single expression builds the same value at once; this base finds the pair of
statements and refuses whenever the loop's side effects could be seen: the accumulator or
the loop variables read elsewhere, ``global``/``nonlocal``, a ``try``/``with`` that could
observe a half-built value, or code that would behave differently in a comprehension frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import ParentNodeProvider, QualifiedNameProvider, ScopeProvider

from methods.codemods.analysis import (
    ancestors,
    comprehension_safe,
    declared_outer,
    enclosing_function,
    in_lazy_scope,
    local_references,
    rebound_by_loop,
    references,
    target_names,
    uses_frame,
)
from methods.codemods.base import TargetedCodemod


@dataclass(frozen=True)
class Step:
    """What one iteration adds to the accumulator: ``value``, under ``key`` for a dict."""

    value: cst.BaseExpression
    key: cst.BaseExpression | None = None


@dataclass(frozen=True)
class Loop:
    """The loop being folded: ``for target in iter: [if cond:] <step>``."""

    target: cst.BaseAssignTargetExpression
    iter: cst.BaseExpression
    step: Step
    cond: cst.BaseExpression | None


class AccumulatorCodemod(TargetedCodemod):
    """Folds ``acc = <empty>`` plus an accumulating ``for`` loop into one assignment."""

    METADATA_DEPENDENCIES = (ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    def is_empty(self, value: cst.BaseExpression) -> bool:
        """True when ``value`` is this rule's empty accumulator."""
        raise NotImplementedError

    def step(self, statement: cst.BaseSmallStatement, acc: str) -> Step | None:
        """What ``statement`` adds to ``acc``, or None when it is not this rule's step."""
        raise NotImplementedError

    def build(self, empty: cst.BaseExpression, loop: Loop) -> cst.BaseExpression:
        """The expression that computes the accumulator in one go."""
        raise NotImplementedError

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        if not self.in_target:
            return updated_node
        old = original_node.body
        body: list[cst.BaseStatement] = []
        index = 0
        while index < len(old):
            merged = self._merge(old[index], old[index + 1]) if index + 1 < len(old) else None
            if merged is None:
                body.append(updated_node.body[index])
                index += 1
            else:
                body.append(merged)
                index += 2
        return updated_node.with_changes(body=body) if len(body) != len(old) else updated_node

    def _merge(
        self, first: cst.BaseStatement, second: cst.BaseStatement
    ) -> cst.BaseStatement | None:
        init = _initial(first)
        if init is None or not isinstance(second, cst.For):
            return None
        acc, value = init
        if not self.is_empty(value) or second.asynchronous or second.orelse:
            return None
        loop = self._loop(second, acc)
        if loop is None or not self._safe(second, acc, loop):
            return None
        assert isinstance(first, cst.SimpleStatementLine)
        assign = first.body[0]
        # Comments above the loop move above the new line; blank lines between the two go.
        notes = [line for line in second.leading_lines if line.comment is not None]
        return first.with_changes(
            body=[assign.with_changes(value=self.build(value, loop))],
            leading_lines=[*first.leading_lines, *notes],
        )

    def _loop(self, loop: cst.For, acc: str) -> Loop | None:
        """The loop's parts when its body is exactly one step, maybe under an ``if``."""
        cond = None
        only = _only_statement(loop.body)
        if isinstance(only, cst.If) and only.orelse is None:
            cond, only = only.test, _only_statement(only.body)
        if not isinstance(only, cst.BaseSmallStatement):
            return None
        step = self.step(only, acc)
        return None if step is None else Loop(loop.target, loop.iter, step, cond)

    def _safe(self, node: cst.For, acc: str, loop: Loop) -> bool:
        func = enclosing_function(self, node)
        names = target_names(loop.target)
        if func is None or names is None or acc in names or not self._plain_block(node, func):
            return False
        if not comprehension_safe(node) or declared_outer(func, [acc, *names]):
            return False
        if uses_frame(func) or m.findall(node.with_changes(leading_lines=()), m.Comment()):
            return False  # locals() would lose the loop variables; comments would be lost
        # The step's own use of ``acc`` is the only one inside the loop, and no closure or
        # generator elsewhere can read the accumulator while it is being built.
        if len(references(node, acc)) != 1:
            return False
        if any(in_lazy_scope(self, ref, func) for ref in local_references(self, func, acc)):
            return False
        # The loop variables live on after a ``for`` but not after a comprehension.
        inside = [loop.target, loop.step.value, loop.step.key, loop.cond]
        for name in names:
            allowed = {
                id(ref) for part in inside if part is not None for ref in references(part, name)
            }
            for ref in local_references(self, func, name):
                if id(ref) not in allowed and not rebound_by_loop(self, ref, name, node):
                    return False
        return True

    def _plain_block(self, node: cst.For, func: cst.FunctionDef) -> bool:
        """No ``try`` (or ``with`` other than ``open``) between the loop and its function."""
        for parent in ancestors(self, node):
            if parent is func:
                return True
            if isinstance(parent, cst.Try | cst.TryStar):
                return False
            if isinstance(parent, cst.With) and not all(
                isinstance(item.item, cst.Call)
                and self.resolves_to(item.item.func, "builtins.open")
                for item in parent.items
            ):
                return False
        return False


def _initial(statement: cst.BaseStatement) -> tuple[str, cst.BaseExpression] | None:
    """``(name, value)`` for a line that is just ``name = value`` or ``name: T = value``."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target, value = small.target, small.value
    else:
        return None
    return (target.value, value) if isinstance(target, cst.Name) else None


def _only_statement(suite: cst.BaseSuite) -> cst.BaseStatement | cst.BaseSmallStatement | None:
    """The single (small) statement of a suite, or None when it holds more than one."""
    if isinstance(suite, cst.SimpleStatementSuite):
        return suite.body[0] if len(suite.body) == 1 else None
    if len(suite.body) != 1:
        return None
    only = suite.body[0]
    if isinstance(only, cst.SimpleStatementLine):
        return only.body[0] if len(only.body) == 1 else None
    return only
