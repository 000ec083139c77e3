"""regex-compile: ``re.match(r"\\d+", s)`` becomes ``_F_PATTERN.match(s)``, compiled once.

The module-level functions look the pattern up in ``re``'s own cache on every call (a key
built from the type, pattern and flags, a dict lookup, a lock on a miss); a pattern compiled
once at import skips all of that. Only for a literal pattern that compiles (an invalid one
would now fail at import instead of at the call) and flags that are constants spelled with
``re``'s own names or integers; the flags move into ``re.compile``, since the compiled
pattern's methods read a third positional argument as ``pos``, not ``flags``. Calls with
``*args``/``**kwargs`` or the pattern given by keyword are left alone.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import QualifiedNameProvider

from methods.codemods.base import TargetedCodemod
from methods.codemods.module_names import (
    fresh_name,
    insert_after_imports,
    module_import,
    taken_names,
)

# Where each function takes its flags when they are passed by position.
_FLAGS_AT = {"match": 2, "search": 2, "fullmatch": 2, "findall": 2, "finditer": 2}
_FLAGS_AT |= {"split": 3, "sub": 4, "subn": 4}
_FLAG_NAMES = frozenset(re.RegexFlag.__members__) - {"TEMPLATE", "T", "DEBUG"}
_EMPTY = cst.Module([])


@dataclass(frozen=True)
class _Pattern:
    name: str
    literal: cst.BaseExpression
    flags: cst.BaseExpression | None


class RegexCompile(TargetedCodemod):
    RULE_ID = "regex-compile"
    DESCRIPTION = (
        "Compiles a constant regular expression once at import instead of looking it up "
        "in the re module's pattern cache on every call."
    )
    METADATA_DEPENDENCIES = (QualifiedNameProvider,)
    QUICK_CHECK = m.Call(
        func=m.Attribute(attr=m.Name(m.MatchIfTrue(_FLAGS_AT.__contains__)))
        | m.Name(m.MatchIfTrue(_FLAGS_AT.__contains__)),
        args=[m.Arg(m.SimpleString() | m.ConcatenatedString(), keyword=None), m.ZeroOrMore()],
    )

    def __init__(self, context: CodemodContext, target_qualname: str) -> None:
        super().__init__(context, target_qualname)
        self._module = cst.Module([])
        self._taken: set[str] | None = None
        self._patterns: dict[tuple[str, str], _Pattern] = {}
        self._function = ""

    def visit_Module(self, node: cst.Module) -> None:
        self._module = node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.in_target and not self._function:
            self._function = node.name.value

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if not self.in_target or not m.matches(original_node, self.QUICK_CHECK):
            return updated_node
        name = self.qualified_name(original_node.func)
        if name is None or not name.startswith("re.") or name[3:] not in _FLAGS_AT:
            return updated_node
        method = name[3:]
        split = self._split(original_node, _FLAGS_AT[method])
        if split is None:
            return updated_node
        flags, kept = split
        flags_node = None if flags is None else original_node.args[flags].value
        pattern = self._pattern(original_node.args[0].value, flags_node)
        if pattern is None:
            return updated_node
        rest = [updated_node.args[i] for i in kept]
        if rest:
            last = rest[-1]
            rest[-1] = last.with_changes(comma=original_node.args[-1].comma)
        func = cst.Attribute(cst.Name(pattern.name), cst.Name(method))
        return updated_node.with_changes(func=func, args=rest)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if not self._patterns:
            return updated_node
        lines = [_compiled(p) for p in self._patterns.values()]
        add = [] if module_import(original_node, "re") else ["re"]
        return insert_after_imports(updated_node, lines, add)

    def _split(self, call: cst.Call, flags_at: int) -> tuple[int | None, list[int]] | None:
        """The flags argument's index and the indices of the arguments that stay."""
        flags: int | None = None
        kept: list[int] = []
        for index, arg in enumerate(call.args):
            if arg.star:
                return None
            keyword = arg.keyword.value if arg.keyword else None
            if keyword == "pattern":
                return None
            if keyword == "flags" or (keyword is None and index == flags_at):
                flags = index
            elif index:
                kept.append(index)
        return flags, kept

    def _pattern(
        self, literal: cst.BaseExpression, flags: cst.BaseExpression | None
    ) -> _Pattern | None:
        """The module-level pattern for ``literal`` with the call's flags; None to refuse."""
        try:
            value = ast.literal_eval(_EMPTY.code_for_node(literal))
            flag_value = 0 if flags is None else self._flag_value(flags)
            if flag_value is None or not isinstance(value, str | bytes):
                return None
            re.compile(value, flag_value)
        except (ValueError, SyntaxError, TypeError, re.error, OverflowError):
            return None
        spelled = None if flags is None else _spell_flags(self, flags)
        key = (_EMPTY.code_for_node(literal), "" if spelled is None else _code(spelled))
        if key not in self._patterns:
            if self._module_has_re_conflict():
                return None
            if self._taken is None:
                self._taken = taken_names(self._module)
            base = f"_{self._function.strip('_').upper() or 'REGEX'}_PATTERN"
            self._patterns[key] = _Pattern(fresh_name(base, self._taken), literal, spelled)
        return self._patterns[key]

    def _module_has_re_conflict(self) -> bool:
        return module_import(self._module, "re") is None

    def _flag_value(self, node: cst.BaseExpression) -> int | None:
        """The integer value of a constant flags expression; None when it is not constant."""
        if isinstance(node, cst.Integer):
            return int(node.evaluated_value)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            left, right = self._flag_value(node.left), self._flag_value(node.right)
            return None if left is None or right is None else left | right
        name = self.qualified_name(node)
        if name and name.startswith("re.") and name[3:] in _FLAG_NAMES:
            return int(getattr(re, name[3:]))
        return None


def _spell_flags(codemod: TargetedCodemod, node: cst.BaseExpression) -> cst.BaseExpression:
    """The flags spelled as ``re.NAME`` (a local ``from re import I`` is not seen at import)."""
    if isinstance(node, cst.BinaryOperation):
        left = _spell_flags(codemod, node.left)
        right = _spell_flags(codemod, node.right)
        return cst.BinaryOperation(left, cst.BitOr(), right)
    name = codemod.qualified_name(node)
    if name and name.startswith("re."):
        return cst.Attribute(cst.Name("re"), cst.Name(name[3:]))
    return node.with_changes(lpar=(), rpar=())


def _code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


def _compiled(pattern: _Pattern) -> cst.SimpleStatementLine:
    args = [cst.Arg(pattern.literal.with_changes(lpar=(), rpar=()))]
    if pattern.flags is not None:
        args.append(cst.Arg(pattern.flags))
    value = cst.Call(cst.Attribute(cst.Name("re"), cst.Name("compile")), args)
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(pattern.name))], value)])
