"""Which module-level ``import`` names stay bound to their module for the whole run."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.metadata import ExpressionContext, ExpressionContextProvider, ScopeProvider

from methods.codemods.base import TargetedCodemod

_CHANGES = (ExpressionContext.STORE, ExpressionContext.DEL)
_PROBES = frozenset(f"builtins.{n}" for n in ("hasattr", "getattr", "setattr", "delattr"))


def stable_imports(codemod: TargetedCodemod, module: cst.Module) -> dict[str, cst.Import]:
    """Names bound by a top-level ``import`` that nothing in the module can disturb.

    ``import a.b`` binds ``a``; ``import a.b as c`` binds ``c``. A name is dropped when it
    has any other binding in the module scope, is deleted, has an attribute assigned or
    deleted (``a.x = ...``), or is probed by ``hasattr``/``getattr``/``setattr``/``delattr``
    (a sign that some attributes may be missing). Needs ``ScopeProvider``,
    ``ExpressionContextProvider`` and ``QualifiedNameProvider``.
    """
    found: dict[str, cst.Import] = {}
    for line in module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for statement in line.body:
            if not isinstance(statement, cst.Import):
                continue
            for alias in statement.names:
                bound = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
                found[bound] = statement
    stable = {n: s for n, s in found.items() if _single_binding(codemod, s, n)}
    for name in _disturbed(codemod, module, set(stable)):
        del stable[name]
    return stable


def imported_modules(module: cst.Module) -> frozenset[str]:
    """The dotted module names a top-level ``import`` statement names (``os.path``, ``os``)."""
    names: set[str] = set()
    for line in module.body:
        for statement in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            if isinstance(statement, cst.Import):
                for alias in statement.names:
                    parts = alias.evaluated_name.split(".")
                    names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return frozenset(names)


def _single_binding(codemod: TargetedCodemod, statement: cst.Import, name: str) -> bool:
    scope = codemod.get_metadata(ScopeProvider, statement, None)
    if scope is None:
        return False
    bindings = list(scope.assignments[name])
    return len(bindings) == 1 and getattr(bindings[0], "node", None) is statement


def _disturbed(codemod: TargetedCodemod, module: cst.Module, names: set[str]) -> set[str]:
    """The ``names`` deleted, assigned into or probed anywhere in ``module`` (one pass each)."""
    named = m.Name(m.MatchIfTrue(names.__contains__))
    bad: set[str] = set()
    for node in m.findall(module, named | m.Attribute(value=named)):
        context = codemod.get_metadata(ExpressionContextProvider, node, None)
        if isinstance(node, cst.Name) and context is ExpressionContext.DEL:
            bad.add(node.value)
        if isinstance(node, cst.Attribute) and context in _CHANGES:
            bad.add(cst.ensure_type(node.value, cst.Name).value)
    for call in m.findall(module, m.Call(args=[m.Arg(named), m.ZeroOrMore()])):
        if isinstance(call, cst.Call) and codemod.resolves_to(call.func, *_PROBES):
            bad.add(cst.ensure_type(call.args[0].value, cst.Name).value)
    return bad
