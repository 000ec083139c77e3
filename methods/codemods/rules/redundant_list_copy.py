"""redundant-list-copy: ``for x in list(seq):`` becomes ``for x in seq:``.

The copy costs a full pass and an allocation; it only matters when the loop could change
``seq`` while iterating it. So ``seq`` must be a local known to hold a list, tuple or set
(:mod:`methods.codemods.knowledge`), never touched inside the loop, and never shared: no
alias made in the function (assigned on, passed on, returned, captured by a closure), and a
list or set parameter, which the caller may share, only when the loop body runs no code
that could reach it (no calls, no stores into attributes or items).
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.metadata import ParentNodeProvider, QualifiedNameProvider, ScopeProvider

from methods.codemods.analysis import (
    declared_outer,
    enclosing_function,
    in_lazy_scope,
    local_references,
    references,
)
from methods.codemods.base import TargetedCodemod
from methods.codemods.knowledge import SEQUENCE, hint, known_bindings

# Builtins that read an iterable without keeping it (or keep only an iterator over it).
_AGGREGATES = ("len", "sorted", "sum", "min", "max", "any", "all")
_WRAPPERS = ("enumerate", "zip", "tuple", "list", "set")
_READERS = frozenset(f"builtins.{n}" for n in (*_AGGREGATES, *_WRAPPERS))
_IMMUTABLE = frozenset({"builtins.tuple", "typing.Tuple"})
_STORE_TARGETS = m.AssignTarget() | m.AugAssign() | m.AnnAssign() | m.For() | m.CompFor()
_COPY = m.Call(args=[m.Arg(value=m.Name(), keyword=None, star="")])


class RedundantListCopy(TargetedCodemod):
    RULE_ID = "redundant-list-copy"
    DESCRIPTION = (
        "Iterates the sequence directly instead of over a list() copy of it, "
        "saving a full copy per loop, since nothing can change the sequence meanwhile."
    )
    METADATA_DEPENDENCIES = (ParentNodeProvider, QualifiedNameProvider, ScopeProvider)
    QUICK_CHECK = m.For(iter=_COPY)

    @m.leave(m.For(iter=_COPY, asynchronous=None))
    def _drop_copy(self, original_node: cst.For, updated_node: cst.For) -> cst.For:
        call = cst.ensure_type(original_node.iter, cst.Call)
        if not self.in_target or not self.resolves_to(call.func, "builtins.list"):
            return updated_node
        seq = cst.ensure_type(call.args[0].value, cst.Name)
        if not self._unshared(original_node, seq.value):
            return updated_node
        return updated_node.with_changes(iter=seq.with_changes(lpar=call.lpar, rpar=call.rpar))

    def _unshared(self, loop: cst.For, name: str) -> bool:
        func = enclosing_function(self, loop)
        bindings = known_bindings(self, loop, name, SEQUENCE)
        if func is None or bindings is None or declared_outer(func, [name]):
            return False
        if references(loop.target, name) or references(loop.body, name):
            return False
        for ref in local_references(self, func, name):
            if in_lazy_scope(self, ref, func) or not self._reads_only(ref):
                return False
        shared = any(
            isinstance(b, cst.Param) and hint(self, b) not in _IMMUTABLE
            for b in bindings
            if not _is_star(self, b)
        )
        return not shared or _inert(loop.body)

    def _reads_only(self, ref: cst.Name) -> bool:
        """True when this use of the name binds it, reads it, or calls a method on it."""
        parent = self.get_metadata(ParentNodeProvider, ref)
        grand = self.get_metadata(ParentNodeProvider, parent, None)
        if isinstance(parent, cst.Param):
            return parent.name is ref  # a binding, vetted by known_bindings
        if isinstance(parent, cst.AssignTarget | cst.AnnAssign):
            return parent.target is ref
        if isinstance(parent, cst.Attribute):
            return isinstance(grand, cst.Call) and grand.func is parent
        if isinstance(parent, cst.Arg):
            return (
                not parent.star
                and parent.keyword is None
                and isinstance(grand, cst.Call)
                and self.resolves_to(grand.func, *_READERS) is not None
            )
        if isinstance(parent, cst.Subscript | cst.For | cst.CompFor):
            return ref in (getattr(parent, "value", None), getattr(parent, "iter", None))
        if isinstance(parent, cst.If | cst.While | cst.IfExp):
            return parent.test is ref
        return m.matches(parent, m.Comparison() | m.ComparisonTarget() | m.UnaryOperation(m.Not()))


def _is_star(codemod: TargetedCodemod, binding: cst.CSTNode) -> bool:
    """True for ``*args``: always a fresh tuple, whatever its annotation says."""
    parent = codemod.get_metadata(ParentNodeProvider, binding, None)
    return isinstance(parent, cst.Parameters) and parent.star_arg is binding


def _inert(body: cst.BaseSuite) -> bool:
    """True when ``body`` cannot run code that mutates a list it cannot name."""
    if m.findall(body, m.Call() | m.Del() | m.Yield() | m.Await()):
        return False
    for store in m.findall(body, _STORE_TARGETS):
        target = getattr(store, "target", None)
        if isinstance(target, cst.CSTNode) and m.findall(target, m.Attribute() | m.Subscript()):
            return False
    return True
