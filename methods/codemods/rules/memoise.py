"""memoise: a pure function called again with the same arguments answers from a cache.

The text alone cannot show purity, so this rule only acts when the caller hands it a
:class:`Memo` (in the codemod context's ``scratch`` under :data:`MEMO`), the verdict of the
captured calls: arguments repeat, are hashable and left unchanged, the result is immutable
and the same on a repeat call (``methods.purity``). The rule itself refuses what the
capture cannot judge: methods and nested functions (a cache would keep every ``self``
alive), generators and coroutines, other decorators, ``global``/``nonlocal`` state, frame
introspection and calls that read the outside world (clocks, randomness, files, input).
``typed=True`` keeps ``f(1)`` and ``f(1.0)`` apart, and ``maxsize`` bounds the memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import QualifiedNameProvider

from methods.codemods.analysis import uses_frame
from methods.codemods.base import TargetedCodemod
from methods.codemods.module_names import insert_after_imports, module_import

MEMO = "memo"
_OUTSIDE = ("time.", "random.", "os.", "sys.", "datetime.", "uuid.", "secrets.", "io.")
_OUTSIDE_BUILTINS = frozenset(f"builtins.{n}" for n in ("open", "input", "print", "id", "next"))


@dataclass(frozen=True)
class Memo:
    """What the captured calls showed: ``calls`` of which ``distinct`` differ, all pure."""

    calls: int
    distinct: int
    entry_bytes: int
    maxsize: int = 1024

    @property
    def memory(self) -> str:
        """The cache's worst case, for a human: entries times bytes per entry."""
        kib = self.maxsize * self.entry_bytes / 1024
        return f"at most {self.maxsize} entries of about {self.entry_bytes} bytes (~{kib:,.0f} KiB)"


class Memoise(TargetedCodemod):
    RULE_ID = "memoise"
    DESCRIPTION = (
        "Caches the function's results with functools.lru_cache, since its captured calls "
        "repeat arguments and showed it pure."
    )
    METADATA_DEPENDENCIES = (QualifiedNameProvider,)
    QUICK_CHECK = m.FunctionDef(decorators=[], asynchronous=None)

    def __init__(self, context: CodemodContext, target_qualname: str) -> None:
        super().__init__(context, target_qualname)
        self._decorated = False

    @classmethod
    def describe(cls, scratch: Mapping[str, Any]) -> str:
        memo = scratch.get(MEMO)
        if not isinstance(memo, Memo):
            return cls.DESCRIPTION
        repeats = memo.calls - memo.distinct
        return (
            f"Caches the function with functools.lru_cache(maxsize={memo.maxsize}, typed=True): "
            f"{repeats} of its {memo.calls} captured calls repeat earlier arguments, and every "
            "captured call had hashable arguments it left unchanged and an immutable result "
            "that was the same on a repeat call. Memory cost: "
            f"{memo.memory}, kept for the life of the process."
        )

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        memo = self.context.scratch.get(MEMO)
        if not isinstance(memo, Memo) or tuple(self._nesting) != self.target:
            return updated_node
        if len(self.target) != 1 or not self._pure_looking(original_node):
            return updated_node
        self._decorated = True
        decorator = cst.Decorator(_lru_cache(memo.maxsize))
        return updated_node.with_changes(decorators=[decorator])

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if not self._decorated:
            return updated_node
        imported = module_import(original_node, "functools")
        if imported is None:
            return original_node  # ``functools`` means something else here: give up
        return insert_after_imports(updated_node, [], [] if imported else ["functools"])

    def _pure_looking(self, func: cst.FunctionDef) -> bool:
        if func.decorators or func.asynchronous or uses_frame(func):
            return False
        if m.findall(func, m.Yield() | m.Await() | m.Global() | m.Nonlocal()):
            return False
        for call in m.findall(func, m.Call()):
            name = self.qualified_name(cst.ensure_type(call, cst.Call).func) or ""
            if name in _OUTSIDE_BUILTINS or name.startswith(_OUTSIDE):
                return False
        return True


def _lru_cache(maxsize: int) -> cst.Call:
    func = cst.Attribute(cst.Name("functools"), cst.Name("lru_cache"))
    args = [
        cst.Arg(cst.Integer(str(maxsize)), keyword=cst.Name("maxsize"), equal=_EQUAL),
        cst.Arg(cst.Name("True"), keyword=cst.Name("typed"), equal=_EQUAL),
    ]
    return cst.Call(func, args)


_EQUAL = cst.AssignEqual(
    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
)
