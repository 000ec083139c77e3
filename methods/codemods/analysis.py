"""Small questions about a tree that several rules ask before they dare to change it.

Functions taking a ``codemod`` need ``ParentNodeProvider`` among its metadata dependencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

import libcst as cst
import libcst.matchers as m
from libcst import MetadataDependent
from libcst.metadata import (
    ComprehensionScope,
    FunctionScope,
    GlobalScope,
    ParentNodeProvider,
    Scope,
    ScopeProvider,
)

_N = TypeVar("_N", bound=cst.CSTNode)

# Scopes whose code runs later, or not at all: a name read there may be read at any time.
LAZY_SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.GeneratorExp)

# Names that can see a frame's local variables, and those that also depend on the frame
# being the method's own (so behave differently inside a comprehension).
_LOCALS_NAMES = frozenset({"locals", "vars", "eval", "exec", "dir"})
_FRAME_NAMES = _LOCALS_NAMES | {"super", "__class__"}


def references(node: cst.CSTNode, name: str) -> list[cst.Name]:
    """Every ``Name`` spelled ``name`` under ``node`` that names a variable.

    Attribute names (``x.name``) and keyword names (``f(name=1)``) are left out; bindings
    (targets, parameters, ``def name``) are kept, which errs on the side of refusing.
    """
    skip = {
        id(a.attr) for a in _typed(m.findall(node, m.Attribute(attr=m.Name(name))), cst.Attribute)
    }
    for arg in _typed(m.findall(node, m.Arg(keyword=m.Name(name))), cst.Arg):
        skip.add(id(arg.keyword))
    return [n for n in _typed(m.findall(node, m.Name(name)), cst.Name) if id(n) not in skip]


def local_references(
    codemod: MetadataDependent, func: cst.FunctionDef, name: str
) -> list[cst.Name]:
    """The references to ``name`` in ``func``'s body that may mean its own local ``name``.

    A reference inside a nested function or comprehension that binds ``name`` itself means
    that scope's variable and is left out. Needs ``ScopeProvider``.
    """
    own = codemod.get_metadata(ScopeProvider, func.body, None)
    return [
        ref
        for ref in references(func.body, name)
        if not _bound_between(codemod.get_metadata(ScopeProvider, ref, None), own, name)
    ]


def _bound_between(scope: Scope | None, own: Scope | None, name: str) -> bool:
    """True when a function or comprehension scope from ``scope`` up to ``own`` binds ``name``."""
    while scope is not None and scope is not own and not isinstance(scope, GlobalScope):
        if isinstance(scope, FunctionScope | ComprehensionScope) and scope.assignments[name]:
            return True
        scope = scope.parent
    return False


def ancestors(codemod: MetadataDependent, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The parents of ``node``, innermost first, up to the module."""
    current: cst.CSTNode | None = codemod.get_metadata(ParentNodeProvider, node, None)
    while current is not None:
        yield current
        current = codemod.get_metadata(ParentNodeProvider, current, None)


def enclosing_function(codemod: MetadataDependent, node: cst.CSTNode) -> cst.FunctionDef | None:
    """The function whose local scope ``node`` runs in; None in a class body or lambda."""
    for parent in ancestors(codemod, node):
        if isinstance(parent, cst.FunctionDef):
            return parent
        if isinstance(parent, cst.ClassDef | cst.Lambda):
            return None
    return None


def in_lazy_scope(codemod: MetadataDependent, node: cst.CSTNode, stop: cst.CSTNode) -> bool:
    """True when ``node`` sits in a nested def, lambda, class or generator below ``stop``."""
    for parent in ancestors(codemod, node):
        if parent is stop:
            return False
        if isinstance(parent, LAZY_SCOPES):
            return True
    return False


def rebound_by_loop(codemod: MetadataDependent, ref: cst.Name, name: str, loop: cst.For) -> bool:
    """True when ``ref`` is bound by, or sits in the body of, another ``for`` binding ``name``.

    Such a use always sees that other loop's own value, never one left behind by ``loop``.
    Loops around ``loop`` do not count: their body runs after ``loop`` too.
    """
    around = {id(parent) for parent in ancestors(codemod, loop)}
    child: cst.CSTNode = ref
    for parent in ancestors(codemod, ref):
        if id(parent) in around or isinstance(parent, LAZY_SCOPES):
            return False
        if isinstance(parent, cst.For) and (child is parent.target or child is parent.body):
            return name in (target_names(parent.target) or ())
        child = parent
    return False


def declared_outer(func: cst.FunctionDef, names: Iterable[str]) -> bool:
    """True when a ``global``/``nonlocal`` anywhere in ``func`` names one of ``names``."""
    wanted = set(names)
    for stmt in m.findall(func, m.Global() | m.Nonlocal()):
        if isinstance(stmt, cst.Global | cst.Nonlocal) and any(
            item.name.value in wanted for item in stmt.names
        ):
            return True
    return False


def comprehension_safe(node: cst.CSTNode) -> bool:
    """True when ``node`` may move into a comprehension's own frame unchanged.

    Refuses ``yield``/``await``/walrus and frame-sensitive names (``super()``, ``locals()``).
    """
    unsafe = (
        m.Yield() | m.Await() | m.NamedExpr() | m.Name(m.MatchIfTrue(_FRAME_NAMES.__contains__))
    )
    return not m.findall(node, unsafe)


def uses_frame(func: cst.FunctionDef) -> bool:
    """True when ``func`` may look at its own local variables (``locals()``, ``eval``, ...).

    Rules that add or remove a local refuse such functions.
    """
    return bool(m.findall(func, m.Name(m.MatchIfTrue(_LOCALS_NAMES.__contains__))))


def target_names(target: cst.BaseExpression) -> list[str] | None:
    """The names a ``for`` target binds, or None when it stores into anything but names."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.Tuple | cst.List):
        names: list[str] = []
        for element in target.elements:
            inner = target_names(element.value)
            if inner is None:
                return None
            names.extend(inner)
        return names
    return None


def _typed(nodes: Iterable[cst.CSTNode], kind: type[_N]) -> list[_N]:
    return [n for n in nodes if isinstance(n, kind)]
