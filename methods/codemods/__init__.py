"""Embedded, offline candidate generator: libcst codemods, one rule per module.

Each rule is a :class:`~methods.codemods.base.TargetedCodemod` that changes one function
only and refuses whenever it cannot be sure the change keeps behaviour. :func:`rewrites_for`
is the one entry point: every rule that applies, plus all of them together.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.metadata import MetadataWrapper

from methods.codemods.base import TargetedCodemod, find_targets
from methods.codemods.rules.dict_comprehension import DictComprehension
from methods.codemods.rules.hoist_attribute import HoistAttribute
from methods.codemods.rules.hoist_constant import HoistConstant
from methods.codemods.rules.hoist_invariant import HoistInvariant
from methods.codemods.rules.list_comprehension import ListComprehension
from methods.codemods.rules.memoise import MEMO, Memo, Memoise
from methods.codemods.rules.redundant_list_copy import RedundantListCopy
from methods.codemods.rules.regex_compile import RegexCompile
from methods.codemods.rules.string_join import StringJoin

# The order is the order of the "combined" rewrite. Loop-header rules come before the
# comprehension rules, which turn the loop into an expression they no longer match;
# hoisting goes last: it inserts a statement before a loop, which would separate an
# accumulator from its loop if it ran before the comprehension rules.
RULES: tuple[type[TargetedCodemod], ...] = (
    RegexCompile,
    HoistConstant,
    RedundantListCopy,
    StringJoin,
    ListComprehension,
    DictComprehension,
    HoistAttribute,
    HoistInvariant,
    Memoise,
)


@dataclass(frozen=True)
class Rewrite:
    """One proposed change: the rule that made it, why it helps, the whole new module."""

    rule: str
    description: str
    source: str


def rewrites_for(
    source: str, qualname: str, facts: Mapping[str, Any] | None = None
) -> list[Rewrite]:
    """One Rewrite per rule that changes function ``qualname`` of module text ``source``.

    ``facts`` are what the caller learnt elsewhere (the captured calls' verdict for the
    memoise rule, under ``memoise.MEMO``); rules read them from their context's scratch.
    When two or more rules apply, one more Rewrite (rule ``"combined"``) applies them all
    in sequence. Returns [] when the source does not parse, the function is not there or
    nothing applies; never raises.
    """
    facts = dict(facts or {})
    try:
        wrapper = _analysed(source)
        targets = find_targets(wrapper.module, qualname)
    except Exception:
        return []
    found = [
        Rewrite(rule.RULE_ID, rule.describe(facts), new)
        for rule in RULES
        if any(rule.might_change(f) for f in targets)
        and (new := _run(rule, wrapper, source, qualname, facts)) is not None
    ]
    if len(found) >= 2:
        combined = _combined(source, qualname, [r.rule for r in found], facts)
        if combined is not None and all(combined.source != r.source for r in found):
            found.append(combined)
    return found


def _combined(
    source: str, qualname: str, rule_ids: list[str], facts: Mapping[str, Any]
) -> Rewrite | None:
    """All the rules that applied alone, run one after the other on the growing result."""
    applied: list[str] = []
    for rule in RULES:
        if rule.RULE_ID in rule_ids:
            new = apply_rule(rule, source, qualname, facts)
            if new is not None:
                source = new
                applied.append(rule.RULE_ID)
    if len(applied) < 2:
        return None
    description = (
        f"Applies {', '.join(applied[:-1])} and {applied[-1]} together, "
        "each for the reason given in its own candidate."
    )
    return Rewrite("combined", description, source)


@functools.lru_cache(maxsize=4)
def _analysed(source: str) -> MetadataWrapper:
    """The parsed module, its metadata computed on first use and kept for the next target.

    Several targets of one file share the parse and the scope analysis, the costly parts;
    trees are immutable and rules only read the metadata, so sharing is safe.
    """
    return MetadataWrapper(cst.parse_module(source))


def apply_rule(
    rule: type[TargetedCodemod],
    source: str,
    qualname: str,
    facts: Mapping[str, Any] | None = None,
) -> str | None:
    """``source`` after ``rule`` ran on ``qualname``; None when it did nothing or failed."""
    try:
        wrapper = _analysed(source)
    except Exception:
        return None
    return _run(rule, wrapper, source, qualname, facts or {})


def _run(
    rule: type[TargetedCodemod],
    wrapper: MetadataWrapper,
    source: str,
    qualname: str,
    facts: Mapping[str, Any],
) -> str | None:
    try:
        context = CodemodContext(scratch=dict(facts))
        new = rule(context, qualname).transform_analysed(wrapper).code
        ast.parse(new)
    except Exception:  # a rule that cannot finish, or makes invalid code, yields nothing
        return None
    return new if new != source else None


__all__ = ["MEMO", "RULES", "Memo", "Rewrite", "TargetedCodemod", "apply_rule", "rewrites_for"]
