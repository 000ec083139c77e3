"""hoist-constant: a dict, list or set of constants built on every call is built once.

``types = {bool: 1, int: 2}`` inside a function makes a new container, element by element,
every time the function runs. When the container only ever holds literals, tuples of them,
and built-in types, and the function only reads it (subscripts, ``in``, ``.get``, loops,
``len`` and the like), nothing can tell one shared copy from a fresh one: the display moves
to a module-level name and the local is assigned from it (``types = _F_TYPES``), so the
rest of the function is unchanged. Any other use (returned, passed on, stored, mutated,
aliased, ``global``) keeps the local as it is, as does a name assigned more than once.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import (
    ExpressionContext,
    ExpressionContextProvider,
    ParentNodeProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from methods.codemods.analysis import uses_frame
from methods.codemods.base import TargetedCodemod
from methods.codemods.module_names import fresh_name, insert_after_imports, taken_names

# Built-in names whose value a module cannot change without shadowing them (then the
# qualified name is no longer ``builtins.X``).
_BUILTIN_VALUES = frozenset(
    {"bool", "int", "float", "complex", "str", "bytes", "tuple", "list", "dict", "set"}
    | {"frozenset", "type", "object", "range", "slice", "bytearray", "memoryview"}
)
# Methods that read a container and never change it.
_READERS = frozenset(
    {"get", "keys", "values", "items", "count", "index", "copy", "issubset", "issuperset"}
    | {"isdisjoint", "union", "intersection", "difference", "symmetric_difference"}
)
# Built-in functions that read their argument and return something new.
_READING_CALLS = frozenset(
    {"len", "sorted", "min", "max", "sum", "any", "all", "tuple", "list", "set", "frozenset"}
    | {"dict", "enumerate", "zip", "reversed", "iter", "bool"}
)
_DISPLAY = m.Dict() | m.List() | m.Set()


class HoistConstant(TargetedCodemod):
    RULE_ID = "hoist-constant"
    DESCRIPTION = (
        "Builds a dict, list or set of constants once at import instead of on every call; "
        "the function only reads it, so one shared copy behaves the same."
    )
    METADATA_DEPENDENCIES = (
        ScopeProvider,
        ParentNodeProvider,
        ExpressionContextProvider,
        QualifiedNameProvider,
    )
    QUICK_CHECK = m.Assign(value=_DISPLAY) | m.AnnAssign(value=_DISPLAY)

    def __init__(self, context: CodemodContext, target_qualname: str) -> None:
        super().__init__(context, target_qualname)
        self._module = cst.Module([])
        self._taken: set[str] | None = None
        self._function = ""
        self._skip = False
        self._hoisted: dict[int, str] = {}  # id of the moved display -> its module-level name
        self._lines: list[cst.SimpleStatementLine] = []

    def visit_Module(self, node: cst.Module) -> None:
        self._module = node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.in_target and not self._function:
            self._function = node.name.value
            self._skip = self.star_import or uses_frame(node)

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        if len(original_node.targets) != 1:
            return updated_node
        name = self._hoist(original_node.targets[0].target, original_node.value)
        return updated_node if name is None else updated_node.with_changes(value=cst.Name(name))

    def leave_AnnAssign(
        self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign
    ) -> cst.AnnAssign:
        if original_node.value is None:
            return updated_node
        name = self._hoist(original_node.target, original_node.value)
        return updated_node if name is None else updated_node.with_changes(value=cst.Name(name))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return insert_after_imports(updated_node, self._lines) if self._lines else updated_node

    def _hoist(self, target: cst.BaseExpression, value: cst.BaseExpression) -> str | None:
        """The module-level name ``value`` moves to, or None to leave the assignment alone."""
        if (
            not self.in_target
            or self._skip
            or not isinstance(target, cst.Name)
            or not m.matches(value, _DISPLAY)
            or not self._constant_display(value)
            or not self._only_read(target)
        ):
            return None
        if self._taken is None:
            self._taken = taken_names(self._module)
        base = f"_{self._function.strip('_')}_{target.value.strip('_')}".upper()
        name = fresh_name(base, self._taken)
        display = value.with_changes(lpar=(), rpar=())
        assign = cst.Assign([cst.AssignTarget(cst.Name(name))], display)
        self._lines.append(cst.SimpleStatementLine([assign]))
        return name

    def _constant_display(self, node: cst.BaseExpression) -> bool:
        """A non-empty dict/list/set display whose every element is constant."""
        if isinstance(node, cst.Dict):
            elements = node.elements
            if not elements or not all(isinstance(e, cst.DictElement) for e in elements):
                return False
            pairs = [e for e in elements if isinstance(e, cst.DictElement)]
            return all(self._constant(e.key) and self._constant(e.value) for e in pairs)
        if isinstance(node, cst.List | cst.Set):
            items = node.elements
            if not items or not all(isinstance(e, cst.Element) for e in items):
                return False
            return all(self._constant(e.value) for e in items)
        return False

    def _constant(self, node: cst.BaseExpression) -> bool:
        """A literal, a tuple of constants, a built-in type, or ``type(constant)``."""
        if isinstance(node, cst.Integer | cst.Float | cst.Imaginary | cst.SimpleString):
            return True
        if isinstance(node, cst.ConcatenatedString):
            return not m.findall(node, m.FormattedString())
        if isinstance(node, cst.UnaryOperation):
            numeric = isinstance(node.expression, cst.Integer | cst.Float | cst.Imaginary)
            return numeric and isinstance(node.operator, cst.Minus | cst.Plus)
        if isinstance(node, cst.Tuple):
            elements = node.elements
            return all(isinstance(e, cst.Element) and self._constant(e.value) for e in elements)
        if isinstance(node, cst.Name):
            if node.value in ("True", "False", "None"):
                return True
            return _builtin(self.qualified_name(node), _BUILTIN_VALUES)
        if isinstance(node, cst.Call):
            called = self.qualified_name(node.func)
            one = len(node.args) == 1 and not node.args[0].star and node.args[0].keyword is None
            return called == "builtins.type" and one and self._constant(node.args[0].value)
        return False

    def _only_read(self, target: cst.Name) -> bool:
        """``target`` is assigned once here and every use of it only reads the container."""
        scope = self.get_metadata(ScopeProvider, target, None)
        if scope is None or not isinstance(scope, cst.metadata.FunctionScope):
            return False
        assignments = list(scope.assignments[target.value])
        if len(assignments) != 1 or not isinstance(assignments[0], cst.metadata.Assignment):
            return False
        if assignments[0].node is not target:
            return False
        references = list(assignments[0].references)
        return bool(references) and all(self._reads(ref.node) for ref in references)

    def _reads(self, node: cst.CSTNode) -> bool:
        """Whether this use of the name reads the container without letting it escape."""
        parent = self.get_metadata(ParentNodeProvider, node, None)
        if isinstance(parent, cst.Subscript) and parent.value is node:
            context = self.get_metadata(ExpressionContextProvider, parent, None)
            return context is ExpressionContext.LOAD
        if isinstance(parent, cst.Attribute) and parent.value is node:
            call = self.get_metadata(ParentNodeProvider, parent, None)
            return (
                parent.attr.value in _READERS and isinstance(call, cst.Call) and call.func is parent
            )
        if isinstance(parent, cst.ComparisonTarget) and parent.comparator is node:
            return isinstance(parent.operator, cst.In | cst.NotIn)
        if isinstance(parent, cst.For | cst.CompFor) and parent.iter is node:
            return True
        if isinstance(parent, cst.Arg) and parent.value is node:
            call = self.get_metadata(ParentNodeProvider, parent, None)
            if not isinstance(call, cst.Call) or parent.star or parent.keyword is not None:
                return False
            return _builtin(self.qualified_name(call.func), _READING_CALLS)
        return False


def _builtin(qualified: str | None, names: frozenset[str]) -> bool:
    """Whether ``qualified`` is ``builtins.X`` for one of ``names`` (not a module's own X)."""
    return qualified is not None and qualified.startswith("builtins.") and qualified[9:] in names
