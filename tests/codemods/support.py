"""Helpers for the codemod tests: run a rule for real, and run code before and after it."""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Callable, Iterable
from typing import Any

import libcst as cst
from libcst.codemod import CodemodContext, CodemodTest

from methods.codemods.base import TargetedCodemod


def transform(rule: type[TargetedCodemod], source: str, qualname: str) -> str:
    """The module text ``rule`` really produces for ``qualname`` (dedented input)."""
    module = cst.parse_module(textwrap.dedent(source))
    return rule(CodemodContext(), qualname).transform_module(module).code


def _outcome(func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        return ("returned", func(*args))
    except Exception as error:  # the same exception type must come out of both versions
        return ("raised", type(error))


def assert_same_behaviour(
    rule: type[TargetedCodemod],
    source: str,
    name: str,
    inputs: Iterable[tuple[Any, ...]],
    call: str | None = None,
) -> str:
    """Rewrite ``name`` with ``rule``, check it changed, and compare both on ``inputs``.

    ``call`` names the top-level function that is run (``name`` itself by default; a method
    is run through such a function). Each version runs in its own fresh namespace; results
    (or exception types) must match. Returns the rewritten text so a test can look at it.
    """
    before = textwrap.dedent(source)
    after = transform(rule, before, name)
    assert after != before, f"{rule.RULE_ID} did not rewrite {name}"
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    exec(compile(before, "<before>", "exec"), old)
    exec(compile(after, "<after>", "exec"), new)
    for args in inputs:
        expected = _outcome(old[call or name], copy.deepcopy(args))
        assert _outcome(new[call or name], copy.deepcopy(args)) == expected, (args, after)
    return after


class RuleTest(CodemodTest):
    """A CodemodTest with one more assertion: named functions are left exactly as they are."""

    def assertUnchanged(self, source: str, *qualnames: str) -> None:
        """Each ``qualname`` alone (with the module's other statements) must not change.

        Every case runs in a module holding only its own top-level def, which keeps the
        whole-module scope analysis small and the cases independent of each other.
        """
        module = cst.parse_module(self.make_fixture_data(source))
        for qualname in qualnames:
            top = qualname.split(".")[0]
            body = [
                s
                for s in module.body
                if not isinstance(s, cst.FunctionDef | cst.ClassDef) or s.name.value == top
            ]
            alone = module.with_changes(body=body).code
            with self.subTest(qualname):
                self.assertIn(f" {top}", alone)
                self.assertCodemod(alone, alone, target_qualname=qualname)
