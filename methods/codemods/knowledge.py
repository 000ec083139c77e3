"""What kind of container a local name holds, known only when every binding says so.

A name is a known list (or dict) when each binding of it in its function is a display,
a comprehension, a call of a builtin constructor or a parameter annotated with the type;
any other binding (augmented assignment, unpacking, ``for`` target, import, walrus, ...)
makes it unknown, and rules refuse unknowns.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import FunctionScope, ParentNodeProvider, ScopeProvider

from methods.codemods.base import TargetedCodemod


@dataclass(frozen=True)
class Kind:
    """How a kind of container is spelled: displays, constructor calls, annotations."""

    displays: m.BaseMatcherNode
    calls: frozenset[str]
    hints: frozenset[str]
    star: str  # the Parameters field whose parameter always holds this kind ("" for none)


SEQUENCE = Kind(
    m.List() | m.Tuple() | m.Set() | m.ListComp() | m.SetComp(),
    frozenset(f"builtins.{n}" for n in ("list", "tuple", "set", "frozenset", "sorted")),
    frozenset({"builtins.list", "builtins.tuple", "builtins.set"})
    | frozenset({"typing.List", "typing.Tuple", "typing.Set"}),
    "star_arg",
)
DICT = Kind(
    m.Dict() | m.DictComp(),
    frozenset({"builtins.dict"})
    | frozenset(f"collections.{n}" for n in ("defaultdict", "OrderedDict", "Counter")),
    frozenset({"builtins.dict", "typing.Dict", "typing.DefaultDict", "typing.OrderedDict"})
    | frozenset(f"collections.{n}" for n in ("defaultdict", "OrderedDict", "Counter")),
    "star_kwarg",
)
# Exactly a list, or exactly a set: for rules that need that type's own methods.
LIST = Kind(
    m.List() | m.ListComp(),
    frozenset({"builtins.list", "builtins.sorted"}),
    frozenset({"builtins.list", "typing.List"}),
    "",
)
SET = Kind(
    m.Set() | m.SetComp(),
    frozenset({"builtins.set"}),
    frozenset({"builtins.set", "typing.Set"}),
    "",
)


def known_bindings(
    codemod: TargetedCodemod, node: cst.CSTNode, name: str, kind: Kind
) -> list[cst.CSTNode] | None:
    """Every binding of the local ``name`` seen from ``node`` when all give a ``kind``.

    The bindings are assignment targets and ``Param`` nodes; None when ``name`` is not a
    local of a function or any binding is of an unknown kind. Needs ``ScopeProvider``,
    ``ParentNodeProvider`` and ``QualifiedNameProvider``.
    """
    scope = codemod.get_metadata(ScopeProvider, node, None)
    if not isinstance(scope, FunctionScope):
        return None
    found: list[cst.CSTNode] = []
    for assignment in scope.assignments[name]:
        binding = getattr(assignment, "node", None)
        if not isinstance(binding, cst.CSTNode) or not _gives(codemod, binding, kind):
            return None
        found.append(binding)
    return found or None


def hint(codemod: TargetedCodemod, param: cst.Param) -> str | None:
    """The qualified name of a parameter's annotation (``list[int]`` gives builtins.list)."""
    annotation = param.annotation.annotation if param.annotation else None
    if isinstance(annotation, cst.Subscript):
        annotation = annotation.value
    return None if annotation is None else codemod.qualified_name(annotation)


def _gives(codemod: TargetedCodemod, binding: cst.CSTNode, kind: Kind) -> bool:
    parent = codemod.get_metadata(ParentNodeProvider, binding, None)
    if isinstance(binding, cst.Param):
        if isinstance(parent, cst.Parameters) and binding in (parent.star_arg, parent.star_kwarg):
            return bool(kind.star) and getattr(parent, kind.star) is binding  # *args: tuple
        default_ok = binding.default is None or m.matches(binding.default, kind.displays)
        return default_ok and hint(codemod, binding) in kind.hints
    if isinstance(parent, cst.AssignTarget):
        statement = codemod.get_metadata(ParentNodeProvider, parent, None)
        ok = isinstance(statement, cst.Assign) and len(statement.targets) == 1
        return ok and isinstance(statement, cst.Assign) and _creates(codemod, statement.value, kind)
    if isinstance(parent, cst.AnnAssign) and parent.target is binding:
        # ``x: list[int]`` alone binds nothing; with a value it is an assignment.
        return parent.value is None or _creates(codemod, parent.value, kind)
    return False


def _creates(codemod: TargetedCodemod, value: cst.BaseExpression, kind: Kind) -> bool:
    """True when evaluating ``value`` makes a new container of ``kind``."""
    if m.matches(value, kind.displays):
        return True
    return isinstance(value, cst.Call) and codemod.resolves_to(value.func, *kind.calls) is not None
