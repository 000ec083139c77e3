"""hoist-attribute: ``math.sqrt`` looked up on every loop step becomes one local lookup.

``math_sqrt = math.sqrt`` goes right before the function's outermost loop that uses it and
the accesses inside that loop read the local instead. Only for a module imported once at
module level with ``import``, never rebound, deleted, assigned into or probed with
``hasattr``/``getattr`` in the module, and only when some access runs unconditionally on
every step: then the attribute must exist, and fetching it earlier changes nothing.
Only attributes that are unlikely to be reassigned while the loop runs are hoisted: ones
called on the spot (``math.sqrt(x)``), UPPER_CASE constants and submodules imported by
name (``import os.path``); a variable such as ``sys.stdout`` is left alone.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import (
    ExpressionContext,
    ExpressionContextProvider,
    ParentNodeProvider,
    ScopeProvider,
)

from methods.codemods.analysis import uses_frame
from methods.codemods.hoisting import LoopHoisting, assignment
from methods.codemods.loop_position import Position, loop_position
from methods.codemods.module_imports import imported_modules, stable_imports

_ACCESS = m.Attribute(value=m.Name(), attr=m.Name(m.MatchIfTrue(lambda a: not a.startswith("__"))))


class HoistAttribute(LoopHoisting):
    RULE_ID = "hoist-attribute"
    DESCRIPTION = (
        "Looks a module attribute up once before the loop instead of on every iteration, "
        "replacing a global plus attribute lookup per step with a local read."
    )

    def __init__(self, context: CodemodContext, target_qualname: str) -> None:
        super().__init__(context, target_qualname)
        self._imports: dict[str, cst.Import] | None = None
        self._submodules: frozenset[str] | None = None
        self._fresh: dict[tuple[str, str], str] = {}
        self._hoist: dict[int, list[tuple[str, str, str]]] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not self.in_target or self.star_import or uses_frame(node):
            return  # a new local would show up in locals()
        groups: dict[tuple[int, str, str], list[tuple[cst.Attribute, Position]]] = {}
        for access in m.findall(node.body, _ACCESS):
            assert isinstance(access, cst.Attribute) and isinstance(access.value, cst.Name)
            position = loop_position(self, access, node)
            if position is None or not self._steady(access) or not self._module_load(access):
                continue
            key = (id(position.loop), access.value.value, access.attr.value)
            groups.setdefault(key, []).append((access, position))
        for (loop_id, mod, attr), found in groups.items():
            if not any(p.every_step for _, p in found):
                continue
            fresh = self._fresh_name(mod, attr)
            self._hoist.setdefault(loop_id, []).append((fresh, mod, attr))
            for access, _ in found:
                self.replaced[id(access)] = fresh

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        return self.read(original_node, updated_node)

    def hoisted_lines(self, statement: cst.BaseStatement) -> list[cst.SimpleStatementLine]:
        return [
            assignment(fresh, cst.Attribute(cst.Name(mod), cst.Name(attr)))
            for fresh, mod, attr in self._hoist.get(id(statement), [])
        ]

    def _steady(self, access: cst.Attribute) -> bool:
        """True for a called function, an UPPER_CASE constant or an imported submodule."""
        parent = self.get_metadata(ParentNodeProvider, access, None)
        if isinstance(parent, cst.Call) and parent.func is access:
            return True
        if access.attr.value.isupper():
            return True
        if self._submodules is None:
            self._submodules = imported_modules(self.tree)
        return self.qualified_name(access) in self._submodules

    def _module_load(self, access: cst.Attribute) -> bool:
        """True when ``access`` reads an attribute of a stable module-level import."""
        name = cst.ensure_type(access.value, cst.Name)
        if self._imports is None:
            self._imports = stable_imports(self, self.tree)
        statement = self._imports.get(name.value)
        if statement is None:
            return False
        if self.get_metadata(ExpressionContextProvider, access, None) != ExpressionContext.LOAD:
            return False
        scope = self.get_metadata(ScopeProvider, name, None)
        seen = list(scope[name.value]) if scope is not None else []
        return len(seen) == 1 and getattr(seen[0], "node", None) is statement

    def _fresh_name(self, mod: str, attr: str) -> str:
        """``mod_attr``, one name per attribute for the whole function."""
        if (mod, attr) not in self._fresh:
            self._fresh[(mod, attr)] = self.fresh(f"{mod}_{attr}")
        return self._fresh[(mod, attr)]
