"""The shared base of every rule: a libcst codemod that only touches one target function."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.metadata import MetadataWrapper, QualifiedNameProvider

_DEF = (cst.FunctionDef, cst.ClassDef)
_NodeT = TypeVar("_NodeT", bound=cst.CSTNode)


def qualname_parts(qualname: str) -> tuple[str, ...]:
    """``"Class.method"`` as ``("Class", "method")``; ``<locals>`` parts are dropped."""
    return tuple(part for part in qualname.split(".") if part and part != "<locals>")


def on_path(nesting: list[str], target: tuple[str, ...]) -> bool:
    """True when a def at ``nesting`` may be, contain, or sit inside the target."""
    depth = min(len(nesting), len(target))
    return bool(target) and tuple(nesting[:depth]) == target[:depth]


class TargetedCodemod(VisitorBasedCodemodCommand):
    """A codemod that changes nodes inside the function ``target_qualname`` only.

    ``target_qualname`` is ``"func"`` or ``"Class.method"``; functions nested inside the
    target count as inside it. The class/function nesting is tracked in :meth:`on_visit` /
    :meth:`on_leave`, which also skip every def off the path to the target, so a rule's own
    ``visit_*``/``leave_*`` hooks only need to ask :attr:`in_target` before changing a node.
    """

    RULE_ID: ClassVar[str] = ""
    DESCRIPTION: str = ""
    # A cheap, metadata-free pattern: a function without a match cannot be changed.
    QUICK_CHECK: ClassVar[m.BaseMatcherNode] = m.FunctionDef()

    def __init__(self, context: CodemodContext, target_qualname: str) -> None:
        super().__init__(context)
        self.target = qualname_parts(target_qualname)
        self._nesting: list[str] = []
        self._functions: list[bool] = []
        self.star_import = False

    def transform_analysed(self, wrapper: MetadataWrapper) -> cst.Module:
        """Like ``transform_module``, on a module whose metadata may already be computed.

        Several rules run on one wrapper share its scope analysis, the costly part on a
        large module. (This is ``Codemod.transform_module`` minus the import helpers.)
        """
        with self.resolve(wrapper):
            self.context = replace(self.context, wrapper=wrapper)
            try:
                return self.transform_module_impl(wrapper.module)
            finally:
                self.context = replace(self.context, wrapper=None)

    @classmethod
    def describe(cls, scratch: Mapping[str, Any]) -> str:
        """Why the change helps; a rule told facts in ``scratch`` by its caller may say more."""
        return cls.DESCRIPTION

    @classmethod
    def might_change(cls, func: cst.FunctionDef) -> bool:
        """False when this rule certainly has nothing to do inside ``func``."""
        return bool(m.findall(func, cls.QUICK_CHECK))

    @property
    def in_target(self) -> bool:
        """True while the visitor is inside the target function (or something nested in it)."""
        depth = len(self.target)
        return (
            depth > 0 and tuple(self._nesting[:depth]) == self.target and self._functions[depth - 1]
        )

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.Module):
            # ``from x import *`` may rebind any name, builtins included: no name is sure.
            self.star_import = bool(m.findall(node, m.ImportStar()))
        if isinstance(node, _DEF):
            self._nesting.append(node.name.value)
            self._functions.append(isinstance(node, cst.FunctionDef))
        visit_children = super().on_visit(node)
        return visit_children and on_path(self._nesting, self.target)

    def on_leave(self, original_node: _NodeT, updated_node: _NodeT) -> _NodeT | cst.RemovalSentinel:
        result = super().on_leave(original_node, updated_node)
        if isinstance(original_node, _DEF):
            self._nesting.pop()
            self._functions.pop()
        return result

    def qualified_name(self, node: cst.CSTNode) -> str | None:
        """The one qualified name of ``node`` (``builtins.list``, ``os.path.join``), or None.

        Needs ``QualifiedNameProvider`` in the rule's ``METADATA_DEPENDENCIES``. A name that
        may mean two things (rebound in a branch, star-imported) has no qualified name.
        """
        if self.star_import:
            return None
        names = self.get_metadata(QualifiedNameProvider, node, set())
        return next(iter(names)).name if len(names) == 1 else None

    def resolves_to(self, node: cst.CSTNode, *qualified: str) -> str | None:
        """The qualified name of ``node`` if it is one of ``qualified``, else None."""
        name = self.qualified_name(node)
        return name if name in qualified else None


class _TargetFinder(cst.CSTVisitor):
    def __init__(self, target: tuple[str, ...]) -> None:
        self.target = target
        self.nesting: list[str] = []
        self.found: list[cst.FunctionDef] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, _DEF):
            self.nesting.append(node.name.value)
            if isinstance(node, cst.FunctionDef) and tuple(self.nesting) == self.target:
                self.found.append(node)
                return False
            return on_path(self.nesting, self.target) and len(self.nesting) < len(self.target)
        return not isinstance(node, cst.BaseSmallStatement)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if isinstance(original_node, _DEF):
            self.nesting.pop()


def find_targets(module: cst.Module, qualname: str) -> list[cst.FunctionDef]:
    """Every ``def`` in ``module`` whose qualified name is ``qualname`` (redefinitions too)."""
    finder = _TargetFinder(qualname_parts(qualname))
    if finder.target:
        module.visit(finder)
    return finder.found
