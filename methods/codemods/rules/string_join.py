"""string-join: ``s = ""`` plus ``for v in it: s += expr`` becomes ``s = "".join([...])``.

Repeated ``+=`` on a str copies the growing string again and again (CPython's in-place
trick is fragile); ``str.join`` sizes the result once. Same value for str parts, and the
accumulator is never read half-built (see :mod:`methods.codemods.accumulate`).
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from methods.codemods.accumulate import AccumulatorCodemod, Loop, Step
from methods.codemods.comprehension import comprehension_for, element


class StringJoin(AccumulatorCodemod):
    RULE_ID = "string-join"
    DESCRIPTION = (
        "Builds the string with one str.join over a list comprehension instead of repeated +=, "
        "which copies the growing string on every step."
    )

    QUICK_CHECK = m.AugAssign(operator=m.AddAssign())

    def is_empty(self, value: cst.BaseExpression) -> bool:
        return (
            isinstance(value, cst.SimpleString)
            and not value.lpar
            and "b" not in value.prefix.lower()
            and value.evaluated_value == ""
        )

    def step(self, statement: cst.BaseSmallStatement, acc: str) -> Step | None:
        if m.matches(statement, m.AugAssign(target=m.Name(acc), operator=m.AddAssign())):
            assert isinstance(statement, cst.AugAssign)
            return Step(statement.value)
        return None

    def build(self, empty: cst.BaseExpression, loop: Loop) -> cst.BaseExpression:
        parts = cst.ListComp(elt=element(loop.step.value), for_in=comprehension_for(loop))
        return cst.Call(cst.Attribute(empty, cst.Name("join")), [cst.Arg(parts)])
