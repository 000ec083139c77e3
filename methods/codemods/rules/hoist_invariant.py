"""hoist-invariant: work on a local that the loop never changes is done once before it.

Three kinds, each read into a new local right before the outermost loop that leaves the
name alone (never binds it, and it is surely bound before that loop: a parameter, or
assigned by an earlier statement of the same block):

* a bound method of a local that is surely a list, set or dict (``out.append`` becomes
  ``out_append``): such an object always has the method, and rebinding is ruled out;
* ``len(x)`` (and ``min``/``max``/``sum``/``abs``): only in a *quiet* loop (see below)
  whose only uses of ``x`` read it (such calls, ``x[i]``, ``in x``, iteration); and only
  where the loop's ``while`` test asks for it first anyway, or (``len`` alone, which then
  cannot raise) ``x`` is surely a container;
* an attribute of ``self`` (``self.scale``) that the class body or ``__init__`` always
  sets, read on every step of a quiet loop which stores no attribute of that name.

A *quiet* loop calls nothing but pure builtins, ``math`` functions and methods of local
lists, sets and dicts, so no code it runs can change the object behind ``x``. A read that
that could raise is never hoisted: the loop might not have run at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import (
    ExpressionContext,
    ExpressionContextProvider,
    FunctionScope,
    ParentNodeProvider,
    ScopeProvider,
)

from methods.codemods.analysis import LAZY_SCOPES, ancestors, declared_outer, uses_frame
from methods.codemods.base import TargetedCodemod
from methods.codemods.hoisting import LoopHoisting, assignment
from methods.codemods.knowledge import DICT, LIST, SEQUENCE, SET, Kind, known_bindings

_METHODS: dict[str, tuple[Kind, frozenset[str]]] = {
    "list": (LIST, frozenset(["append", "extend", "insert", "pop", "remove", "index", "count"])),
    "set": (SET, frozenset(["add", "discard", "remove", "update"])),
    "dict": (DICT, frozenset(["get", "setdefault", "pop", "update", "items", "keys", "values"])),
}
_PURE = frozenset(
    f"builtins.{n}"
    for n in [
        "abs",
        "all",
        "any",
        "bool",
        "chr",
        "divmod",
        "enumerate",
        "float",
        "int",
        "isinstance",
        "len",
        "max",
        "min",
        "ord",
        "pow",
        "range",
        "reversed",
        "round",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
    ]
)
_LOOP = (cst.For, cst.While)
_GUARDS = (cst.Try, cst.TryStar, cst.Match, cst.Assert, cst.ListComp, cst.SetComp, cst.DictComp)
_ACCESS = m.Attribute(value=m.Name(), attr=m.Name(m.MatchIfTrue(lambda a: not a.startswith("__"))))
# Builtins of one local whose answer only the object decides; ``len`` of a container can
# never raise, the others only move when the loop's test asks for them first anyway.
_OF_ONE = frozenset({"len", "min", "max", "sum", "abs"})
_LEN = m.Call(
    func=m.Name(m.MatchIfTrue(_OF_ONE.__contains__)),
    args=[m.Arg(m.Name(), keyword=None, star="")],
)
_BUILTINS_OF_ONE = tuple(f"builtins.{n}" for n in sorted(_OF_ONE))


@dataclass(frozen=True)
class _Hoist:
    node: cst.BaseExpression  # the expression that is read once, before the loop
    name: str  # the local it is read into


class HoistInvariant(LoopHoisting):
    RULE_ID = "hoist-invariant"
    DESCRIPTION = (
        "Reads a bound method, a length or an attribute of a local the loop never changes "
        "once before the loop instead of on every iteration."
    )

    def __init__(self, context: CodemodContext, target_qualname: str) -> None:
        super().__init__(context, target_qualname)
        self._hoist: dict[int, list[_Hoist]] = {}
        self._classes: list[cst.ClassDef] = []
        self._method: cst.FunctionDef | None = None
        self._func: cst.FunctionDef | None = None
        self._class: cst.ClassDef | None = None
        self._names: dict[str, str] = {}  # one local per expression, read before each loop
        self._hoisted: set[tuple[int, str]] = set()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._classes.append(node)

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        self._classes.pop()
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if tuple(self._nesting) != self.target or self.star_import or uses_frame(node):
            return
        self._func = node
        inside_class = len(self._nesting) >= 2 and not self._functions[-2]
        self._method = node if inside_class else None
        self._class = self._classes[-1] if inside_class and self._classes else None
        for expression, name in self._found(node):
            loop = self._outermost_loop(node, expression, name)
            if loop is None:
                continue
            code = cst.Module([]).code_for_node(expression)
            if code not in self._names:
                self._names[code] = self._fresh_name(expression)
            if (id(loop), code) not in self._hoisted:
                self._hoisted.add((id(loop), code))
                self._hoist.setdefault(id(loop), []).append(_Hoist(expression, self._names[code]))
            self.replaced[id(expression)] = self._names[code]

    def _found(self, func: cst.FunctionDef) -> Iterator[tuple[cst.BaseExpression, str]]:
        """Each hoistable read in a loop of ``func`` and the local it depends on."""
        for node in m.findall(func.body, _ACCESS | _LEN):
            if isinstance(node, cst.Call):
                arg = cst.ensure_type(node.args[0].value, cst.Name)
                if self.resolves_to(node.func, *_BUILTINS_OF_ONE):
                    yield node, arg.value
            elif isinstance(node, cst.Attribute):
                yield node, cst.ensure_type(node.value, cst.Name).value

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        return self.read(original_node, updated_node)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self.read(original_node, updated_node)

    def hoisted_lines(self, statement: cst.BaseStatement) -> list[cst.SimpleStatementLine]:
        return [assignment(h.name, h.node) for h in self._hoist.get(id(statement), [])]

    def _outermost_loop(
        self, func: cst.FunctionDef, expression: cst.BaseExpression, name: str
    ) -> cst.For | cst.While | None:
        """The outermost loop around ``expression`` the read may move before; None for none."""
        loops = self._loops(func, expression)
        if not loops or declared_outer(func, [name]) or not self._is_local(expression, name):
            return None
        kind = self._kind(expression, name)
        chosen: cst.For | cst.While | None = None
        for loop in loops:  # innermost first
            if self._binds(loop, name) or not self._allowed(kind, loop, expression, name):
                break
            if self._bound_before(func, loop, name):
                chosen = loop
        return chosen

    def _kind(self, expression: cst.BaseExpression, name: str) -> str:
        """``"method"``, ``"len"`` or ``"attribute"``; ``""`` when the read cannot move."""
        if isinstance(expression, cst.Call):
            return "len"
        attribute = cst.ensure_type(expression, cst.Attribute)
        context = self.get_metadata(ExpressionContextProvider, attribute, None)
        if context != ExpressionContext.LOAD:
            return ""
        parent = self.get_metadata(ParentNodeProvider, attribute, None)
        if isinstance(parent, cst.Call) and parent.func is attribute:
            sure = self._container_method(attribute) and not self._inferred(attribute, name)
            return "method" if sure else ""
        return "attribute"

    def _allowed(
        self, kind: str, loop: cst.For | cst.While, expression: cst.BaseExpression, name: str
    ) -> bool:
        if kind == "method":
            return True
        if not kind or not self._quiet(loop):
            return False
        if kind == "len":
            call = cst.ensure_type(expression, cst.Call)
            never_raises = _builtin_name(call) == "len" and self._container(name, expression)
            sure = never_raises or _asked_first(self, expression, loop)
            return sure and self._only_read(loop, name)
        attr = cst.ensure_type(expression, cst.Attribute).attr.value
        if not self._always_set(expression, name, attr):
            return False
        return self._every_step(expression, loop) and not self._stores_attribute(loop, attr)

    def _always_set(self, node: cst.CSTNode, name: str, attr: str) -> bool:
        """True when ``name`` is the ``self`` of a method whose class always has ``attr``:
        assigned in the class body, or at the top level of its ``__init__``."""
        func = self._method
        if func is None or not func.params.params or func.params.params[0].name.value != name:
            return False
        klass = self._class
        if klass is None:
            return False
        body = klass.body.body if isinstance(klass.body, cst.IndentedBlock) else ()
        assigned = m.SimpleStatementLine(
            [
                m.Assign(targets=[m.ZeroOrMore(), m.AssignTarget(m.Name(attr)), m.ZeroOrMore()])
                | m.AnnAssign(target=m.Name(attr), value=m.MatchIfTrue(lambda v: v is not None))
            ]
        )
        on_self = m.SimpleStatementLine(
            [
                m.Assign(targets=[m.AssignTarget(m.Attribute(m.Name(), m.Name(attr)))])
                | m.AnnAssign(target=m.Attribute(m.Name(), m.Name(attr)))
            ]
        )
        for statement in body:
            if m.matches(statement, assigned):
                return True
            if isinstance(statement, cst.FunctionDef) and statement.name.value == "__init__":
                params = statement.params.params
                me = params[0].name.value if params else None
                for line in (
                    statement.body.body if isinstance(statement.body, cst.IndentedBlock) else ()
                ):
                    if m.matches(line, on_self) and _target_owner(line) == me:
                        return True
        return False

    def _loops(self, func: cst.FunctionDef, node: cst.CSTNode) -> list[cst.For | cst.While] | None:
        """The loops around ``node`` in ``func``, innermost first, with ``node`` in the part
        that repeats; None when it sits in a nested def, lambda or class."""
        found: list[cst.For | cst.While] = []
        child = node
        for parent in ancestors(self, node):
            if parent is func:
                return found
            if isinstance(parent, cst.FunctionDef | cst.Lambda | cst.ClassDef):
                return None
            if isinstance(parent, cst.For | cst.While):
                repeats = child is parent.body or (
                    isinstance(parent, cst.While) and child is parent.test
                )
                if not repeats:
                    return found if found else None
                found.append(parent)
            child = parent
        return None

    def _is_local(self, node: cst.CSTNode, name: str) -> bool:
        scope = self.get_metadata(ScopeProvider, node, None)
        return isinstance(scope, FunctionScope) and bool(scope.assignments[name])

    def _binds(self, loop: cst.CSTNode, name: str) -> bool:
        """True when ``name`` is bound (assigned, deleted, a loop target, ...) inside ``loop``."""
        scope = self.get_metadata(ScopeProvider, loop, None)
        if scope is None:
            return True
        inside = {id(n) for n in m.findall(loop, m.Name(name))}
        for binding_of in scope.assignments[name]:
            node = getattr(binding_of, "node", None)
            if node is None or id(node) in inside or _contains(self, loop, node):
                return True
        return bool(m.findall(loop, m.Del()))

    def _bound_before(self, func: cst.FunctionDef, loop: cst.CSTNode, name: str) -> bool:
        """True when ``name`` is a parameter or assigned by an earlier statement of the block."""
        params = func.params
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        if any(p.name.value == name for p in every):
            return True
        block = self.get_metadata(ParentNodeProvider, loop, None)
        if not isinstance(block, cst.IndentedBlock):
            return False
        assigns = m.SimpleStatementLine(
            [
                m.Assign(targets=[m.AssignTarget(m.Name(name))])
                | m.AnnAssign(target=m.Name(name), value=m.MatchIfTrue(lambda v: v is not None))
            ]
        )
        for statement in block.body:
            if statement is loop:
                return False
            if m.matches(statement, assigns):
                return True
        return False

    def _container_method(self, attribute: cst.Attribute) -> bool:
        name = cst.ensure_type(attribute.value, cst.Name).value
        return any(
            attribute.attr.value in methods and known_bindings(self, attribute, name, kind)
            for kind, methods in _METHODS.values()
        )

    def _inferred(self, node: cst.CSTNode, name: str) -> bool:
        """True when a type checker learns ``name``'s item type from its method calls:
        ``out = []`` without an annotation, in a function it checks (an annotated one).
        Reading ``out.append`` before the first call would leave it no type to infer."""
        func = self._func
        if func is None:
            return True
        params = func.params
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        if func.returns is None and not any(p.annotation for p in every):
            return False
        scope = self.get_metadata(ScopeProvider, node, None)
        empty = m.List([]) | m.Dict([]) | m.Set([]) | m.Call(m.Name(), args=[])
        for binding_of in scope.assignments[name] if scope is not None else ():
            binding = getattr(binding_of, "node", None)
            parent = self.get_metadata(ParentNodeProvider, binding, None) if binding else None
            statement = self.get_metadata(ParentNodeProvider, parent, None) if parent else None
            if isinstance(statement, cst.Assign) and m.matches(statement.value, empty):
                return True
        return False

    def _container(self, name: str, node: cst.CSTNode) -> bool:
        return any(known_bindings(self, node, name, kind) for kind in (SEQUENCE, DICT))

    def _quiet(self, loop: cst.CSTNode) -> bool:
        """True when every call in ``loop`` is a pure builtin, a ``math`` function or a
        method of a local list, set or dict: nothing it runs can reach other objects."""
        for call in m.findall(loop, m.Call()):
            func = cst.ensure_type(call, cst.Call).func
            name = self.qualified_name(func)
            if name in _PURE or (name or "").startswith("math."):
                continue
            if m.matches(func, m.Attribute(value=m.Name())) and self._container_method(
                cst.ensure_type(func, cst.Attribute)
            ):
                continue
            return False
        return not m.findall(loop, m.Yield() | m.Await() | m.Del())

    def _only_read(self, loop: cst.CSTNode, name: str) -> bool:
        """True when each use of ``name`` in ``loop`` only reads it: nothing can change it."""
        for ref in m.findall(loop, m.Name(name)):
            parent = self.get_metadata(ParentNodeProvider, ref, None)
            if isinstance(parent, cst.Attribute) and parent.attr is ref:
                continue
            if isinstance(parent, cst.Arg):
                call = self.get_metadata(ParentNodeProvider, parent, None)
                if isinstance(call, cst.Call) and self.resolves_to(call.func, *_BUILTINS_OF_ONE):
                    continue
                return False
            if isinstance(parent, cst.Subscript) and parent.value is ref:
                context = self.get_metadata(ExpressionContextProvider, parent, None)
                if context == ExpressionContext.LOAD:
                    continue
                return False
            if isinstance(parent, cst.ComparisonTarget) and m.matches(
                parent.operator, m.In() | m.NotIn()
            ):
                continue
            if isinstance(parent, cst.For | cst.CompFor) and parent.iter is ref:
                continue
            if isinstance(parent, cst.Comparison | cst.BinaryOperation | cst.BooleanOperation):
                continue  # compared or combined with, which does not change it
            return False
        return True

    def _every_step(self, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
        """True when ``node`` runs each time the part of ``loop`` that repeats runs."""
        child = node
        for parent in ancestors(self, node):
            if parent is loop:
                return True
            if isinstance(parent, cst.If | cst.IfExp) and child is not parent.test:
                return False
            if isinstance(parent, cst.BooleanOperation) and child is parent.right:
                return False
            if isinstance(parent, _GUARDS + LAZY_SCOPES):
                return False
            if isinstance(parent, _LOOP) and child is not parent.body:
                return False
            child = parent
        return False

    def _stores_attribute(self, loop: cst.CSTNode, attr: str) -> bool:
        for node in m.findall(loop, m.Attribute(attr=m.Name(attr))):
            if self.get_metadata(ExpressionContextProvider, node, None) != ExpressionContext.LOAD:
                return True
        return bool(m.findall(loop, m.AugAssign(target=m.Attribute(attr=m.Name(attr)))))

    def _fresh_name(self, expression: cst.BaseExpression) -> str:
        if isinstance(expression, cst.Call):
            arg = cst.ensure_type(expression.args[0].value, cst.Name)
            return self.fresh(f"{arg.value}_{_builtin_name(expression)}")
        attribute = cst.ensure_type(expression, cst.Attribute)
        owner = cst.ensure_type(attribute.value, cst.Name).value
        return self.fresh(f"{owner}_{attribute.attr.value}")


def _builtin_name(call: cst.Call) -> str:
    return cst.ensure_type(call.func, cst.Name).value


def _asked_first(codemod: TargetedCodemod, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
    """True when ``node`` is evaluated first thing, unconditionally, by ``loop``'s test."""
    if not isinstance(loop, cst.While):
        return False
    child = node
    for parent in ancestors(codemod, node):
        if parent is loop:
            return child is loop.test
        if isinstance(parent, cst.BooleanOperation) and child is parent.right:
            return False
        if isinstance(parent, cst.IfExp) and child is not parent.test:
            return False
        if isinstance(parent, LAZY_SCOPES):
            return False
        child = parent
    return False


def _target_owner(line: cst.BaseStatement) -> str | None:
    """The name in front of the attribute a ``name.attr = ...`` line assigns."""
    statement = cst.ensure_type(line, cst.SimpleStatementLine).body[0]
    target = (
        statement.targets[0].target
        if isinstance(statement, cst.Assign)
        else cst.ensure_type(statement, cst.AnnAssign).target
    )
    owner = cst.ensure_type(target, cst.Attribute).value
    return owner.value if isinstance(owner, cst.Name) else None


def _contains(codemod: TargetedCodemod, outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
    return inner is outer or any(parent is outer for parent in ancestors(codemod, inner))
