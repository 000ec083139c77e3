"""dict-comprehension: ``d = {}`` plus ``for v in it: d[k] = x`` becomes ``d = {k: x ...}``.

A comprehension stores each item without the generic subscript-assignment bytecode.
``d[k] = x`` evaluates ``x`` before ``k`` while ``{k: x ...}`` evaluates ``k`` first, so a
key containing any call is refused: its side effects could be reordered.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from methods.codemods.accumulate import AccumulatorCodemod, Loop, Step
from methods.codemods.comprehension import comprehension_for, element


class DictComprehension(AccumulatorCodemod):
    RULE_ID = "dict-comprehension"
    DESCRIPTION = (
        "Replaces a loop that fills a fresh dict item by item with a dict comprehension, "
        "which stores each item without a separate subscript assignment."
    )

    QUICK_CHECK = m.AssignTarget(m.Subscript())

    def is_empty(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.Dict):
            return not value.elements
        return (
            isinstance(value, cst.Call)
            and not value.args
            and self.resolves_to(value.func, "builtins.dict") is not None
        )

    def step(self, statement: cst.BaseSmallStatement, acc: str) -> Step | None:
        store = m.Subscript(value=m.Name(acc), slice=[m.SubscriptElement(m.Index(star=None))])
        if not m.matches(statement, m.Assign(targets=[m.AssignTarget(store)])):
            return None
        assert isinstance(statement, cst.Assign)
        target = cst.ensure_type(statement.targets[0].target, cst.Subscript)
        key = cst.ensure_type(target.slice[0].slice, cst.Index).value
        if m.findall(key, m.Call()):
            return None
        return Step(statement.value, key=key)

    def build(self, empty: cst.BaseExpression, loop: Loop) -> cst.BaseExpression:
        key = loop.step.key
        assert key is not None
        return cst.DictComp(element(key), element(loop.step.value), comprehension_for(loop))
