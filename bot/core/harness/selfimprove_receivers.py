"""Rebuild a method's receiver from how the capture saw it built, as source a test can hold.

Imported by ``selfimprove_mutant_diff.py`` (same folder) inside the *target's* interpreter;
standard library only. The capture plugin notes, for each recorded method call, the
constructor call that built the receiver and the module-level factory that made that call
(when one did), with pickled arguments. A way is usable when every argument can be written
as a literal and calling it again builds a receiver equal to the one captured at the call
(same attributes, recursively); otherwise the reason is kept for the report. A receiver is
never pickled into a test.
"""

from __future__ import annotations

import ast
import base64
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import selfimprove_replay as _replay  # beside this script's caller, which is run by path

_WAYS = ("constructor", "factory")


@dataclass(frozen=True)
class Recipe:
    """A call that builds a receiver: ``module:qualname`` and its arguments as source."""

    call: str
    args: tuple[str, ...]
    kwargs: tuple[tuple[str, str], ...]

    @property
    def module(self) -> str:
        return self.call.split(":", 1)[0]

    @property
    def qualname(self) -> str:
        return self.call.split(":", 1)[1]

    @property
    def source(self) -> str:
        """``engine()`` or ``Parser(1, strict=True)``: the receiver in a test."""
        named = [f"{k}={v}" for k, v in self.kwargs]
        return f"{self.qualname}({', '.join([*self.args, *named])})"

    @property
    def imports(self) -> list[list[str]]:
        return [[self.module, self.qualname.split(".", 1)[0]]]

    def to_json(self) -> dict[str, Any]:
        return {"call": self.call, "args": list(self.args), "kwargs": dict(self.kwargs)}

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Recipe:
        kwargs = tuple((str(k), str(v)) for k, v in dict(entry["kwargs"]).items())
        return cls(str(entry["call"]), tuple(str(a) for a in entry["args"]), kwargs)

    def build(self, resolve: Callable[[str], Any]) -> Any:
        """A fresh receiver; ``resolve`` finds ``module:qualname`` in the caller's world."""
        args = [ast.literal_eval(a) for a in self.args]
        kwargs = {k: ast.literal_eval(v) for k, v in self.kwargs}
        return resolve(self.call)(*args, **kwargs)


def recipe(
    record: dict[str, Any],
    receiver: Any,
    written: Callable[[Any], str | None],
    resolve: Callable[[str], Any],
) -> tuple[Recipe | None, str]:
    """The first way of building ``receiver`` that a test can spell out, or None and why not.

    ``written`` gives a value's source (None when it has none); ``resolve`` finds a callable.
    """
    how = record.get("receiver")
    if not isinstance(how, dict):
        return None, "the capture did not note how the receiver was built"
    if "refused" in how:
        return None, str(how["refused"])
    reasons: list[str] = []
    for way in _WAYS:
        seen = how.get(way)
        if not isinstance(seen, dict):
            continue
        found, why = _usable(seen, receiver, written, resolve)
        if found is not None:
            return found, ""
        reasons.append(f"{way} {seen.get('call', '?')}: {why}")
    return None, "; ".join(reasons) or "no way of building the receiver was noted"


def _usable(
    seen: dict[str, Any],
    receiver: Any,
    written: Callable[[Any], str | None],
    resolve: Callable[[str], Any],
) -> tuple[Recipe | None, str]:
    if "refused" in seen:
        return None, str(seen["refused"])
    try:
        args, kwargs = pickle.loads(base64.b64decode(seen["args"]))
    except Exception as exc:
        return None, f"its arguments cannot be loaded ({type(exc).__name__})"
    sources = [written(a) for a in args]
    named = {str(k): written(v) for k, v in kwargs.items()}
    if any(s is None for s in [*sources, *named.values()]):
        return None, "an argument cannot be written as a Python literal"
    found = Recipe(
        str(seen["call"]),
        tuple(s for s in sources if s is not None),
        tuple((k, v) for k, v in named.items() if v is not None),
    )
    try:
        rebuilt = found.build(resolve)
    except Exception as exc:
        return None, f"calling it again raised {type(exc).__name__}: {_replay._short(str(exc))}"
    try:
        differs = _replay.Comparer(1e-9, 0.0).diff(rebuilt, receiver, "receiver")
    except Exception as exc:
        differs = f"comparing raised {type(exc).__name__}"
    if differs:
        return None, f"it builds a different receiver (changed after it was built?): {differs}"
    return found, ""
