"""The check shared by dict-keys-iteration and dict-values-iteration.

``for k, _ in d.items():`` only unpacks pairs to throw half away. Iterating ``d`` (or
``d.values()``) yields the same keys (values) in the same order and fails the same way if
``d`` changes size, provided ``d`` is known to be a dict and the discarded ``_`` is never
read (or deleted) anywhere in the function, since it no longer gets bound.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.metadata import ParentNodeProvider, QualifiedNameProvider, ScopeProvider

from methods.codemods.analysis import (
    declared_outer,
    enclosing_function,
    local_references,
    uses_frame,
)
from methods.codemods.base import TargetedCodemod
from methods.codemods.knowledge import DICT, known_bindings

_ITEMS = m.Call(func=m.Attribute(value=m.Name(), attr=m.Name("items")), args=[])
KEYS_LOOP = m.For(
    target=m.Tuple([m.Element(m.Name()), m.Element(m.Name("_"))]), iter=_ITEMS, asynchronous=None
)
VALUES_LOOP = m.For(
    target=m.Tuple([m.Element(m.Name("_")), m.Element(m.Name())]), iter=_ITEMS, asynchronous=None
)


class DictItemsCodemod(TargetedCodemod):
    """Base of the two rules: decides whether a ``d.items()`` loop may drop one half."""

    METADATA_DEPENDENCIES = (ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    def half_unused(self, loop: cst.For, dropped: int) -> tuple[cst.Name, cst.Name] | None:
        """The dict name and the kept loop name when element ``dropped`` may go."""
        if not self.in_target:
            return None
        target = cst.ensure_type(loop.target, cst.Tuple)
        call = cst.ensure_type(loop.iter, cst.Call)
        mapping = cst.ensure_type(cst.ensure_type(call.func, cst.Attribute).value, cst.Name)
        kept = cst.ensure_type(target.elements[1 - dropped].value, cst.Name)
        func = enclosing_function(self, loop)
        if func is None or uses_frame(func) or declared_outer(func, [mapping.value, "_"]):
            return None
        if known_bindings(self, loop, mapping.value, DICT) is None:
            return None
        throwaway = target.elements[dropped].value
        for ref in local_references(self, func, "_"):
            if ref is not throwaway and not self._stores(ref):
                return None
        return mapping, kept

    def _stores(self, ref: cst.Name) -> bool:
        """True when ``ref`` is only bound here (a plain target), never read or deleted."""
        parent = self.get_metadata(ParentNodeProvider, ref, None)
        if isinstance(parent, cst.AssignTarget | cst.For | cst.CompFor):
            return parent.target is ref
        if isinstance(parent, cst.Element):
            holder = self.get_metadata(ParentNodeProvider, parent, None)
            return isinstance(holder, cst.Tuple | cst.List) and self._stored_sequence(holder)
        return False

    def _stored_sequence(self, node: cst.CSTNode) -> bool:
        parent = self.get_metadata(ParentNodeProvider, node, None)
        if isinstance(parent, cst.AssignTarget | cst.For | cst.CompFor):
            return parent.target is node
        return False
