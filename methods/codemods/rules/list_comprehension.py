"""list-comprehension: ``r = []`` plus ``for v in it: r.append(expr)`` becomes ``r = [...]``.

A comprehension appends without looking up and calling ``r.append`` on every step. The
accumulator is never read half-built (see :mod:`methods.codemods.accumulate`).
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from methods.codemods.accumulate import AccumulatorCodemod, Loop, Step
from methods.codemods.comprehension import comprehension_for, element

_APPEND_ONE = m.Call(args=[m.Arg(keyword=None, star="")])


class ListComprehension(AccumulatorCodemod):
    RULE_ID = "list-comprehension"
    DESCRIPTION = (
        "Replaces a loop that appends to a fresh list with a list comprehension, "
        "which skips the attribute lookup and method call of append on every step."
    )

    QUICK_CHECK = m.Call(func=m.Attribute(attr=m.Name("append")))

    def is_empty(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.List):
            return not value.elements
        return (
            m.matches(value, m.Call(args=[]))
            and isinstance(value, cst.Call)
            and self.resolves_to(value.func, "builtins.list") is not None
        )

    def step(self, statement: cst.BaseSmallStatement, acc: str) -> Step | None:
        call = m.Call(func=m.Attribute(value=m.Name(acc), attr=m.Name("append"))) & _APPEND_ONE
        if m.matches(statement, m.Expr(value=call)):
            assert isinstance(statement, cst.Expr) and isinstance(statement.value, cst.Call)
            return Step(statement.value.args[0].value)
        return None

    def build(self, empty: cst.BaseExpression, loop: Loop) -> cst.BaseExpression:
        return cst.ListComp(elt=element(loop.step.value), for_in=comprehension_for(loop))
