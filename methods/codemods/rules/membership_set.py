"""membership-set: ``x in [1, 2, 3, 4]`` becomes ``x in {1, 2, 3, 4}``.

Only literals of four or more plain str/number constants: those are hashable, compare by
value, and CPython folds the set display into one frozenset constant, so the test becomes
one hash lookup instead of a scan. A left operand that is visibly unhashable (a list
display, a comprehension) is refused, since the set lookup would raise where the scan did not.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

import libcst as cst
import libcst.matchers as m

from methods.codemods.base import TargetedCodemod

_NUMBER = m.Integer() | m.Float() | m.Imaginary()
_CONSTANT = (
    m.SimpleString(
        m.MatchIfTrue(lambda v: "b" not in v[: len(v) - len(v.lstrip("rRuUbB"))].lower())
    )
    | _NUMBER
    | m.UnaryOperation(operator=m.Minus() | m.Plus(), expression=_NUMBER)
)
_UNHASHABLE = m.List() | m.Dict() | m.Set() | m.ListComp() | m.DictComp() | m.SetComp()
_EMPTY = cst.Module([])


class MembershipSet(TargetedCodemod):
    RULE_ID = "membership-set"
    DESCRIPTION = (
        "Tests membership against a set literal of constants instead of a list or tuple, "
        "so the test is one hash lookup instead of a linear scan."
    )
    METADATA_DEPENDENCIES = ()  # purely syntactic: literals and operators only
    MIN_ELEMENTS = 4
    QUICK_CHECK = m.ComparisonTarget(m.In() | m.NotIn(), comparator=m.List() | m.Tuple())

    @m.leave(
        m.Comparison(
            comparisons=[m.ZeroOrMore(), m.ComparisonTarget(m.In() | m.NotIn()), m.ZeroOrMore()]
        )
    )
    def _membership(
        self, original_node: cst.Comparison, updated_node: cst.Comparison
    ) -> cst.Comparison:
        if not self.in_target:
            return updated_node
        left = updated_node.left
        targets: list[cst.ComparisonTarget] = []
        for target in updated_node.comparisons:
            container = target.comparator
            new = None
            if m.matches(target.operator, m.In() | m.NotIn()) and not _unhashable(left):
                new = self._as_set(container)
            targets.append(target.with_changes(comparator=new) if new else target)
            left = container
        return updated_node.with_changes(comparisons=targets)

    def _as_set(self, container: cst.BaseExpression) -> cst.Set | None:
        """The set display equal to ``container`` for membership, or None to refuse."""
        if isinstance(container, cst.List):
            lbrace = cst.LeftCurlyBrace(whitespace_after=container.lbracket.whitespace_after)
            rbrace = cst.RightCurlyBrace(whitespace_before=container.rbracket.whitespace_before)
            lpar, rpar = container.lpar, container.rpar
        elif isinstance(container, cst.Tuple) and len(container.lpar) == 1:
            lbrace = cst.LeftCurlyBrace(whitespace_after=container.lpar[0].whitespace_after)
            rbrace = cst.RightCurlyBrace(whitespace_before=container.rpar[0].whitespace_before)
            lpar, rpar = (), ()
        else:
            return None
        elements = _unique_constants(container.elements)
        if elements is None or len(container.elements) < self.MIN_ELEMENTS:
            return None
        return cst.Set(elements, lbrace=lbrace, rbrace=rbrace, lpar=lpar, rpar=rpar)


def _unhashable(left: cst.BaseExpression) -> bool:
    """True when ``left`` is visibly unhashable: a list/dict/set display, or a tuple of one."""
    if isinstance(left, cst.Tuple):
        return any(_unhashable(element.value) for element in left.elements)
    return m.matches(left, _UNHASHABLE)


def _unique_constants(elements: Sequence[cst.BaseElement]) -> list[cst.Element] | None:
    """The elements without repeated values (a set display with duplicates reads as a bug)."""
    kept: list[cst.Element] = []
    values: list[object] = []
    for element in elements:
        if not isinstance(element, cst.Element) or not m.matches(element.value, _CONSTANT):
            return None
        value = ast.literal_eval(_EMPTY.code_for_node(element.value))
        if value not in values:
            kept.append(element)
            values.append(value)
    if kept and kept[-1] is not elements[-1]:
        last = elements[-1]
        kept[-1] = kept[-1].with_changes(
            comma=last.comma if isinstance(last, cst.Element) else cst.MaybeSentinel.DEFAULT
        )
    return kept
