"""Rebuild a method's receiver from how the capture saw it built, as source a test can hold.

Imported by ``selfimprove_mutant_diff.py`` (same folder) inside the *target's* interpreter;
standard library only. The capture plugin notes, for each recorded method call, the
constructor call that built the receiver and the module-level factory that made that call
(when one did), with pickled arguments. A way is usable when every argument can be written
as a literal and calling it again builds a receiver equal to the one captured at the call
(same attributes, recursively); otherwise the reason is kept for the report. A receiver is
never pickled into a test.

Equal is enough, identical types are not needed: a receiver whose ``classical_dict["all"]``
is ``1`` where the suite's held ``True`` stands in for it. The check only decides whether
the rebuilt receiver is one the suite could have used; a test made from it is still proven
by running it (it passes on the base every time and fails on its mutant).
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import selfimprove_replay as _replay  # beside this script's caller, which is run by path

_WAYS = ("constructor", "factory")
_RECEIVER = "receiver"  # the variable a test with setup calls keeps the receiver in

Arguments = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]


def _spelled(args: Arguments) -> str:
    positional, named = args
    return ", ".join([*positional, *(f"{k}={v}" for k, v in named)])


def _values(args: Arguments) -> tuple[list[Any], dict[str, Any]]:
    positional, named = args
    return [ast.literal_eval(a) for a in positional], {k: ast.literal_eval(v) for k, v in named}


def _setup_line(name: str, args: Arguments) -> str:
    """A setup call as its caller wrote it: ``receiver["k"] = 1``, ``del receiver["k"]``."""
    positional, named = args
    if name == "__setitem__" and len(positional) == 2 and not named:
        return f"{_RECEIVER}[{positional[0]}] = {positional[1]}"
    if name == "__delitem__" and len(positional) == 1 and not named:
        return f"del {_RECEIVER}[{positional[0]}]"
    return f"{_RECEIVER}.{name}({_spelled(args)})"


@dataclass(frozen=True)
class Recipe:
    """A call that builds a receiver: ``module:qualname`` and its arguments as source."""

    call: str
    args: tuple[str, ...]
    kwargs: tuple[tuple[str, str], ...]
    setup: tuple[tuple[str, Arguments], ...] = ()  # (method, its arguments) after building

    @property
    def module(self) -> str:
        return self.call.split(":", 1)[0]

    @property
    def qualname(self) -> str:
        return self.call.split(":", 1)[1]

    @property
    def source(self) -> str:
        """``engine()`` or ``Parser(1, strict=True)``: the receiver in a test."""
        return f"{self.qualname}({_spelled((self.args, self.kwargs))})"

    def spelled(self, method: str) -> tuple[str, list[str]]:
        """What a test calls for ``method``, and the lines that come first (the setup)."""
        if not self.setup:
            return f"{self.source}.{method}", []
        lines = [f"{_RECEIVER} = {self.source}"]
        lines += [_setup_line(name, args) for name, args in self.setup]
        return f"{_RECEIVER}.{method}", lines

    @property
    def imports(self) -> list[list[str]]:
        return [[self.module, self.qualname.split(".", 1)[0]]]

    def to_json(self) -> dict[str, Any]:
        setup = [[name, list(args), dict(named)] for name, (args, named) in self.setup]
        return {
            "call": self.call,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "setup": setup,
        }

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Recipe:
        kwargs = tuple((str(k), str(v)) for k, v in dict(entry["kwargs"]).items())
        setup = tuple(
            (str(name), (tuple(map(str, args)), tuple((str(k), str(v)) for k, v in named.items())))
            for name, args, named in entry.get("setup", ())
        )
        return cls(str(entry["call"]), tuple(str(a) for a in entry["args"]), kwargs, setup)

    def build(self, resolve: Callable[[str], Any]) -> Any:
        """A fresh receiver; ``resolve`` finds ``module:qualname`` in the caller's world."""
        args, kwargs = _values((self.args, self.kwargs))
        built = resolve(self.call)(*args, **kwargs)
        for name, arguments in self.setup:
            positional, named = _values(arguments)
            try:
                getattr(built, name)(*positional, **named)
            except Exception as exc:
                raise SetupFailed(_setup_line(name, arguments), exc) from exc
        return built


class SetupFailed(Exception):
    """A setup call raised on the rebuilt receiver: it needs calls made before those kept."""

    def __init__(self, line: str, error: Exception) -> None:
        super().__init__(f"`{line}` raised {type(error).__name__}: {_replay._short(str(error))}")


def _differs(found: Recipe, receiver: Any, resolve: Callable[[str], Any]) -> str | None:
    """How a receiver ``found`` builds differs from ``receiver`` (None: it does not)."""
    try:
        rebuilt = found.build(resolve)
    except SetupFailed as exc:
        return (
            f"replaying its setup calls failed: {exc} (the suite set it up with more calls than "
            f"the last {len(found.setup)} kept, or with some that cannot be written as literals)"
        )
    except Exception as exc:
        return f"calling it again raised {type(exc).__name__}: {_replay._short(str(exc))}"
    try:
        comparer = _replay.Comparer(1e-9, 0.0, equal_numbers=True)
        differs: str | None = comparer.diff(rebuilt, receiver, "receiver")
    except Exception as exc:
        differs = f"comparing raised {type(exc).__name__}"
    return differs


def _setup_calls(
    how: dict[str, Any], written: Callable[[Any], str | None]
) -> tuple[tuple[str, Arguments], ...]:
    """The noted setup calls whose arguments can all be written as literals."""
    try:
        calls = pickle.loads(base64.b64decode(how["setup"]["calls"]))
    except Exception:
        return ()
    found: list[tuple[str, Arguments]] = []
    for name, args, kwargs in calls:
        sources = [written(a) for a in args]
        named = [(str(k), written(v)) for k, v in kwargs.items()]
        if all(s is not None for s in sources) and all(v is not None for _, v in named):
            found.append(
                (str(name), (tuple(map(str, sources)), tuple((k, str(v)) for k, v in named)))
            )
    return tuple(found)


def _fewest(found: Recipe, receiver: Any, resolve: Callable[[str], Any]) -> Recipe:
    """``found`` with each setup call left out that an equal receiver does without."""
    index = 0
    while index < len(found.setup):
        fewer = dataclasses.replace(found, setup=found.setup[:index] + found.setup[index + 1 :])
        if _differs(fewer, receiver, resolve) is None:
            found = fewer
        else:
            index += 1
    return found


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
        found, why = _usable(seen, receiver, written, resolve, _setup_calls(how, written))
        if found is not None:
            return found, ""
        reasons.append(f"{way} {seen.get('call', '?')}: {why}")
    return None, "; ".join(reasons) or "no way of building the receiver was noted"


def _usable(
    seen: dict[str, Any],
    receiver: Any,
    written: Callable[[Any], str | None],
    resolve: Callable[[str], Any],
    setup: tuple[tuple[str, Arguments], ...],
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
    differs = _differs(found, receiver, resolve)
    if differs is None:
        return found, ""
    if setup:
        with_setup = dataclasses.replace(found, setup=setup)
        differs = _differs(with_setup, receiver, resolve)
        if differs is None:
            return _fewest(with_setup, receiver, resolve), ""
    then = f" even after its last {len(setup)} setup call(s)" if setup else ""
    return None, f"it builds a different receiver{then} (changed after it was built?): {differs}"
