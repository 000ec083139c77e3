"""Replay captured calls in the *target's* interpreter: check equivalence and time them.

Run as ``<interpreter> selfimprove_replay.py <capture.json>`` inside one worktree (base or
candidate).
Only this process unpickles captured data (a pickle made by target code may run code);
the bot reads nothing but the JSON verdicts. Standard library only.

Protocol: one JSON command per line on stdin, one JSON answer per line on stdout.

* ``{"cmd": "check", "targets": [key, ...], "rel_tol": r, "abs_tol": a}`` → ``{"targets":
  {key: {"calls", "ok", "skipped", "verdicts", "mismatches", "reasons", "errors",
  "foreign"}}}``; a verdict is true (same outcome and same arguments afterwards), false, or
  null (the call could not be loaded here).
* ``{"cmd": "time", "target": key, "loops": L, "calls": [i, ...]}`` → ``{"ns": total}``.

A generator call's record (``yields``: how many items the caller took, ``exhausted``:
whether it saw the end) is replayed by taking as many items (one more when exhausted, to
see the end again), then closing the generator: ``check`` compares the items and an error
raised while iterating as it compares results and errors, and ``time`` times the taking
too, or a generator would look free.
* ``{"cmd": "load_other", "root": path, "modules": [name, ...]}`` → ``{"modules": [...]}``:
  import a second copy of the project from the other worktree ``root`` (``OtherCopy`` in
  ``selfimprove_worlds.py``, next to this file). Afterwards ``check`` and ``time`` take
  ``"world": "other"`` to run that copy, and ``check`` reports in ``foreign`` the first
  file of the *other* copy's tree that ran while a call of this world was replayed (null
  when none did).
* ``{"cmd": "quit"}``.

A harness error answers ``{"error": "..."}``. The protocol keeps private copies of fds 0
and 1; target code sees /dev/null as stdin and stderr as stdout, so it cannot corrupt it.
"""

from __future__ import annotations

import base64
import gc
import importlib
import io
import json
import math
import os
import pathlib
import sys
import time
import types
from collections.abc import Callable, Iterator
from typing import IO, Any

from selfimprove_worlds import NATIVE, OTHER, OtherCopy, Unpickler, Watch

_REPR = 80
_MAX_DEPTH = 200
_MAX_MISMATCHES = 5
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None))
# Sets have no order to recurse in; functions, classes and modules are pickled by reference.
_BY_EQUALITY = (
    set,
    frozenset,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.ModuleType,
)


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<unrepresentable {type(value).__name__}: {exc}>"
    return text if len(text) <= _REPR else text[: _REPR - 3] + "..."


def _has_custom_eq(value: Any) -> bool:
    return getattr(type(value), "__eq__", object.__eq__) is not object.__eq__


def _state(value: Any) -> dict[str, Any]:
    """The attributes that make up a plain object: its ``__dict__`` and its slots."""
    state: dict[str, Any] = dict(getattr(value, "__dict__", {}) or {})
    for klass in type(value).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(value, slot):
                state[slot] = getattr(value, slot)
    if isinstance(value, BaseException):
        state["<args>"] = value.args
    return state


class Comparer:
    """Recursive equality with float tolerance; returns the first difference, or None.

    ``equal_numbers`` lets numbers of different types that compare equal (``1`` and
    ``True``, ``2`` and ``2.0``) pass: for receivers, whose state need only be equal, not
    identical in type; a call's outcome keeps the strict check (``1`` for ``True`` is a
    change a caller can see).

    ``moved`` is (the worktree ``got`` was made in, the one ``want`` was made in): a string
    or path naming a file of one checkout names the same file in the other, so
    ``<candidate>/src/pkg/data`` equals ``<base>/src/pkg/data`` (a function that returns a
    path under its own ``__file__`` would otherwise differ for every candidate).
    """

    def __init__(
        self,
        rel_tol: float,
        abs_tol: float,
        *,
        equal_numbers: bool = False,
        moved: tuple[str, str] | None = None,
    ) -> None:
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        self.equal_numbers = equal_numbers
        self.moved = moved if moved and moved[0] != moved[1] else None
        self.seen: set[tuple[int, int]] = set()
        self.alive: list[tuple[Any, Any]] = []  # keeps ids in ``seen`` from being reused

    def diff(self, got: Any, want: Any, where: str, depth: int = 0) -> str | None:
        if got is want:
            return None
        if type(got) is not type(want):
            if self.equal_numbers and _equal_numbers(got, want):
                return None
            return f"{where}: {type(got).__name__} {_short(got)} != {type(want).__name__}"
        if depth > _MAX_DEPTH:
            return f"{where}: nested too deeply to compare"
        if (id(got), id(want)) in self.seen:  # a cycle, or a shared object compared before
            return None
        self.seen.add((id(got), id(want)))
        self.alive.append((got, want))
        if self.moved and isinstance(got, (str, pathlib.PurePath)):
            got = relocated(got, *self.moved)
        if isinstance(got, float):
            same = (math.isnan(got) and math.isnan(want)) or math.isclose(
                got, want, rel_tol=self.rel_tol, abs_tol=self.abs_tol
            )
            return None if same else f"{where}: {got!r} != {want!r}"
        if isinstance(got, (list, tuple)):
            if len(got) != len(want):
                return f"{where}: length {len(got)} != {len(want)}"
            for i, item in enumerate(got):
                found = self.diff(item, want[i], f"{where}[{i}]", depth + 1)
                if found:
                    return found
            return None
        if isinstance(got, dict):
            if list(got) != list(want):
                return f"{where}: keys {_short(list(got))} != {_short(list(want))}"
            for key in got:
                found = self.diff(got[key], want[key], f"{where}[{key!r}]", depth + 1)
                if found:
                    return found
            return None
        if _bound(got):
            if _bound(want) and _method_name(got) == _method_name(want):
                return self.diff(got.__self__, want.__self__, f"{where}.__self__", depth + 1)
            return f"{where}: {_short(got)} != {_short(want)}"
        if isinstance(got, _BY_EQUALITY):
            return None if got == want else f"{where}: {_short(got)} != {_short(want)}"
        if hasattr(got, "tolist") and hasattr(got, "dtype"):  # array-likes (numpy)
            if str(got.dtype) != str(want.dtype) or getattr(got, "shape", 0) != getattr(
                want, "shape", 0
            ):
                return f"{where}: dtype/shape differ"
            return self.diff(got.tolist(), want.tolist(), where, depth + 1)
        if _has_custom_eq(got):
            return None if _truth(got == want) else f"{where}: {_short(got)} != {_short(want)}"
        return self.diff(_state(got), _state(want), f"{where}.__dict__", depth + 1)


def relocated(value: Any, here: str, there: str) -> Any:
    """``value`` (a str or a path) with the checkout ``here`` in it renamed ``there``."""
    text = os.fspath(value)
    if here not in text:
        return value
    text = there if text == here else text.replace(here + os.sep, there + os.sep)
    return text if isinstance(value, str) else type(value)(text)


def _bound(value: Any) -> bool:
    """A method bound to an object (not a module's function): ``engine.plural_noun``.

    Python compares two such methods by the identity of their objects, so a bound method
    passed as an argument (inflect's ``_plequal(word1, word2, self.plural_noun)``) never
    equals its unpickled recording; the object it is bound to is compared instead.
    """
    bound = isinstance(value, (types.MethodType, types.BuiltinMethodType))
    return bound and not isinstance(
        getattr(value, "__self__", None), (types.ModuleType, type(None))
    )


def _method_name(method: Any) -> tuple[Any, str]:
    """What a bound method runs: its function (Python) or its type and name (builtin)."""
    func = getattr(method, "__func__", None)
    if func is not None:
        return func, ""
    return type(method.__self__), str(method.__name__)


def _equal_numbers(got: Any, want: Any) -> bool:
    """Both are plain numbers (bool, int, float) and equal: ``1 == True``, ``2 == 2.0``."""
    plain = (bool, int, float)
    return type(got) in plain and type(want) in plain and bool(got == want)


def _truth(result: Any) -> bool:
    if hasattr(result, "all") and not isinstance(result, bool):
        return bool(result.all())
    return bool(result)


def mangled(holder: Any, name: str) -> str:
    """``name`` as Python stores it in class ``holder``: ``__touch`` is ``_LFUCache__touch``."""
    if isinstance(holder, type) and name.startswith("__") and not name.endswith("__"):
        return f"_{holder.__name__.lstrip('_')}{name}"
    return name


class Replayer:
    """The captured calls of every target and the functions they belong to, per world.

    The ``native`` world is the project as this process imported it; the ``other`` world is
    the second copy loaded by ``load_other`` (absent until then).
    """

    def __init__(self, captures: dict[str, Any]) -> None:
        self.captures = captures
        self.functions: dict[tuple[str, str], Callable[..., Any]] = {}
        self.other: OtherCopy | None = None

    def records(self, key: str) -> list[dict[str, Any]]:
        return list(self.captures.get(key, {}).get("calls", []))

    def modules(self, world: str) -> dict[str, types.ModuleType]:
        """Module copies that replace ``sys.modules`` entries in ``world`` (none natively)."""
        if world == NATIVE:
            return {}
        if self.other is None:
            raise RuntimeError("no other copy of the project is loaded")
        copies: dict[str, types.ModuleType] = self.other.modules
        return copies

    def moved(self, key: str, world: str) -> tuple[str, str] | None:
        """(the checkout ``world`` runs from, the one ``key``'s calls were captured in)."""
        captured = self.captures.get(key, {}).get("root")
        if not captured:
            return None
        if world == NATIVE:
            return os.path.realpath(os.getcwd()), str(captured)
        return (self.other.root if self.other else ""), str(captured)

    def loads(self, blob: bytes, world: str) -> Any:
        """Unpickle with the project's classes taken from ``world``'s copy of the project."""
        return Unpickler(io.BytesIO(blob), self.modules(world)).load()

    def function(self, key: str, world: str = NATIVE) -> Callable[..., Any]:
        """Import ``module:qualname``; a method is the plain function in its class dict."""
        if (world, key) not in self.functions:
            module_name, qualname = key.split(":", 1)
            holder: Any = self.modules(world).get(module_name)
            if holder is None:
                if world != NATIVE:
                    raise ImportError(f"{module_name} is not part of the other copy")
                holder = importlib.import_module(module_name)
            parts = qualname.split(".")
            for part in parts[:-1]:
                holder = getattr(holder, part)
            if isinstance(holder, type):
                name = mangled(holder, parts[-1])
                func = vars(holder)[name]
                if isinstance(func, staticmethod):
                    func = func.__func__
                elif isinstance(func, classmethod):
                    func = getattr(holder, name)
            else:
                func = getattr(holder, parts[-1])
            if not callable(func):
                raise TypeError(f"{key} is not callable")
            self.functions[world, key] = func
        return self.functions[world, key]

    def check(
        self, keys: list[str], rel_tol: float, abs_tol: float, world: str = NATIVE
    ) -> dict[str, Any]:
        return {"targets": {key: self._check_one(key, rel_tol, abs_tol, world) for key in keys}}

    def _check_one(self, key: str, rel_tol: float, abs_tol: float, world: str) -> dict[str, Any]:
        records = self.records(key)
        verdicts: list[bool | None] = [None] * len(records)
        reasons: dict[str, str] = {}
        errors: list[str] = []
        watch = Watch(self.other.foreign[world] if self.other else ())
        moved = self.moved(key, world)
        try:
            func = watch.wrap(self.function(key, world))
        except Exception as exc:
            errors.append(f"cannot load {key}: {type(exc).__name__}: {exc}")
            return _summary(verdicts, reasons, errors, None)
        for index, record in enumerate(records):
            try:
                args, kwargs = self.loads(base64.b64decode(record["args"]), world)
                after = self.loads(base64.b64decode(record["after"]), world)
                result = None
                if record["outcome"] == "return" or "yields" in record:
                    result = self.loads(base64.b64decode(record["result"]), world)
            except Exception as exc:
                reasons[str(index)] = f"cannot load: {type(exc).__name__}: {_short(str(exc))}"
                continue
            try:
                comparer = Comparer(rel_tol, abs_tol, moved=moved)
                reason = _replay_call(func, args, kwargs, record, result, after, comparer)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a custom __eq__ that raises, say
                reason = f"comparing the outcome raised {type(exc).__name__}: {_short(str(exc))}"
            verdicts[index] = reason is None
            if reason is not None:
                reasons[str(index)] = reason
        return _summary(verdicts, reasons, errors, watch.seen)

    def time(self, key: str, loops: int, indices: list[int], world: str = NATIVE) -> dict[str, Any]:
        """Total ns of ``loops`` runs of each call; a fresh copy of the arguments per run.

        A memoised function (one with ``cache_clear``) would answer every run after the
        first from its cache; it replays the calls in their recorded order instead, its
        cache emptied before each pass, so only the capture's own repeats are cache hits.
        """
        func = self.function(key, world)
        records = self.records(key)
        if callable(getattr(func, "cache_clear", None)):
            return {"ns": self._time_passes(func, records, loops, indices, world)}
        total = 0
        for index in indices:
            blob = base64.b64decode(records[index]["args"])
            fixed: tuple[Any, Any] | None = None
            for _ in range(loops):
                args, kwargs = fixed if fixed is not None else self.loads(blob, world)
                if fixed is None and _immutable((args, tuple(kwargs.values()))):
                    fixed = (args, kwargs)
                total += _timed(func, args, kwargs, records[index])
        return {"ns": total}

    def _time_passes(
        self,
        func: Any,
        records: list[dict[str, Any]],
        loops: int,
        indices: list[int],
        world: str,
    ) -> int:
        """Total ns of ``loops`` passes over the calls in order, each from an empty cache."""
        chosen = [(base64.b64decode(records[i]["args"]), records[i]) for i in indices]
        total = 0
        for _ in range(loops):
            func.cache_clear()
            for blob, record in chosen:
                args, kwargs = self.loads(blob, world)
                total += _timed(func, args, kwargs, record)
        return total


def _immutable(value: Any) -> bool:
    if isinstance(value, _IMMUTABLE):
        return True
    if type(value) in (tuple, frozenset):
        return all(_immutable(item) for item in value)
    return False


def _timed(func: Callable[..., Any], args: Any, kwargs: Any, record: dict[str, Any]) -> int:
    """ns of one call, the items its caller took included (a generator's work is there)."""
    enabled = gc.isenabled()
    gc.disable()
    result: Any = None
    start = time.perf_counter_ns()
    try:
        result = taken(func(*args, **kwargs), record)
    except KeyboardInterrupt:
        raise
    except BaseException:  # the call raised when it was captured too
        pass
    end = time.perf_counter_ns()
    if enabled:
        gc.enable()
    del result
    return end - start


def yielded(result: Any, record: dict[str, Any]) -> tuple[list[Any], BaseException | None]:
    """The items a replayed generator call gives its caller, as many as ``record`` says the
    captured caller took (one more when it saw the end), and what the generator raised
    while they were taken; the generator is then closed, as the caller's was."""
    count = int(record.get("yields") or 0) + bool(record.get("exhausted"))
    items: list[Any] = []
    raised: BaseException | None = None
    try:
        while len(items) < count:
            items.append(next(result))
    except StopIteration:
        pass
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # what the capture saw raised here is compared
        raised = exc
    finally:
        close = getattr(result, "close", None)
        if callable(close):
            close()
    return items, raised


def bounded(result: Any, most: int, marks: dict[str, Any]) -> list[Any]:
    """At most ``most`` items of the generator ``result`` (fewer: it ended), then closed;
    ``marks`` gets the ``yields`` and ``exhausted`` a record needs to take them alike later.
    An error raised on the way is raised here, after ``marks`` is set."""
    items, raised = yielded(result, {"yields": most - 1, "exhausted": True})
    marks.update(yields=len(items), exhausted=raised is not None or len(items) < most)
    if raised is not None:
        raise raised
    return items


def taken(result: Any, record: dict[str, Any]) -> Any:
    """``result``, or for a generator record the items taken from it (for timing and
    tracing: a generator's work happens as it is consumed)."""
    if "yields" not in record or not isinstance(result, Iterator):
        return result
    items, raised = yielded(result, record)
    if raised is not None:
        raise raised
    return items


def _exception_type(exc: BaseException) -> str:
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"


def _replay_call(
    func: Callable[..., Any],
    args: Any,
    kwargs: Any,
    record: dict[str, Any],
    result: Any,
    after: Any,
    comparer: Comparer,
) -> str | None:
    """Why this call behaves differently from its capture, or None when it does not."""
    try:
        got = func(*args, **kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if "yields" in record:
            return f"raised {_exception_type(exc)} when called, expected a generator"
        found = _raised_differs(exc, record)
    else:
        if "yields" in record:
            found = _yields_differ(got, record, result, comparer)
        elif record["outcome"] == "raise":
            error = record["error"] or {}
            found = f"returned {_short(got)}, expected to raise {error.get('type')}"
        else:
            found = comparer.diff(got, result, "result")
    return found or _arguments_differ(args, kwargs, after, comparer)


def _raised_differs(exc: BaseException, record: dict[str, Any]) -> str | None:
    """Why raising ``exc`` is not what the capture saw, or None when it is."""
    raised = f"{_exception_type(exc)}: {_short(str(exc))}"
    if record["outcome"] != "raise":
        return f"raised {raised}, expected a return value"
    error = record["error"] or {}
    if _exception_type(exc) != error.get("type") or str(exc) != error.get("message"):
        return f"raised {raised}, expected {error.get('type')}: {_short(error.get('message'))}"
    return None


def _yields_differ(got: Any, record: dict[str, Any], items: Any, comparer: Comparer) -> str | None:
    """Why the generator ``got`` does not yield the recorded ``items`` (and end, or raise,
    where the capture's did), or None when it does."""
    if not isinstance(got, Iterator):
        return f"returned {_short(got)}, expected a generator"
    found, raised = yielded(got, record)
    common = min(len(found), len(items))  # the first other item says more than the count
    differs = comparer.diff(found[:common], items[:common], "the items yielded")
    if differs:
        return differs
    if len(found) > len(items):
        return f"yielded more than the {len(items)} item(s) it yielded when captured"
    if raised is not None:
        return _raised_differs(raised, record)
    if len(found) < len(items):
        return f"stopped after {len(found)} item(s), expected {len(items)}"
    if record["outcome"] == "raise":
        error = record["error"] or {}
        return f"stopped after {len(found)} item(s), expected to raise {error.get('type')}"
    return None


def _arguments_differ(args: Any, kwargs: Any, after: Any, comparer: Comparer) -> str | None:
    """Why the arguments after the replayed call differ from those after the capture."""
    after_args, after_kwargs = after
    if len(args) != len(after_args) or list(kwargs) != list(after_kwargs):
        return "the arguments after the call differ in number"
    for index, arg in enumerate(args):
        found = comparer.diff(arg, after_args[index], f"argument {index} after the call")
        if found:
            return found
    for name, value in kwargs.items():
        found = comparer.diff(value, after_kwargs[name], f"argument {name} after the call")
        if found:
            return found
    return None


def _summary(
    verdicts: list[bool | None], reasons: dict[str, str], errors: list[str], foreign: str | None
) -> dict[str, Any]:
    failing = [f"call {i}: {why}" for i, why in reasons.items() if verdicts[int(i)] is False]
    return {
        "calls": sum(v is not None for v in verdicts),
        "ok": sum(v is True for v in verdicts),
        "skipped": sum(v is None for v in verdicts),
        "verdicts": verdicts,
        "mismatches": failing[:_MAX_MISMATCHES],
        "reasons": reasons,
        "errors": errors,
        "foreign": foreign,
    }


def _handle(replayer: Replayer, command: dict[str, Any]) -> dict[str, Any] | None:
    cmd = command.get("cmd")
    world = str(command.get("world", NATIVE))
    if world not in (NATIVE, OTHER):
        return {"error": f"unknown world {world!r}"}
    if cmd == "check":
        rel_tol = float(command.get("rel_tol", 1e-9))
        abs_tol = float(command.get("abs_tol", 0))
        return replayer.check(list(command["targets"]), rel_tol, abs_tol, world)
    if cmd == "time":
        loops, calls = int(command["loops"]), list(command["calls"])
        return replayer.time(command["target"], loops, calls, world)
    if cmd == "load_other":
        here = os.path.realpath(os.getcwd())
        there = os.path.realpath(str(command["root"]))
        replayer.other = OtherCopy(here, there, [str(n) for n in command["modules"]])
        return {"modules": sorted(replayer.other.modules)}
    if cmd == "quit":
        return None
    return {"error": f"unknown command {cmd!r}"}


def _private_pipes() -> tuple[IO[str], IO[str]]:
    """Keep fds 0 and 1 for the protocol; target code gets /dev/null and stderr instead."""
    proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
    sys.stdout = sys.stderr
    return proto_in, proto_out


def main(argv: list[str]) -> int:
    proto_in, proto_out = _private_pipes()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    with open(argv[1], encoding="utf-8") as handle:
        replayer = Replayer(json.load(handle))
    for line in proto_in:
        if not line.strip():
            continue
        try:
            answer = _handle(replayer, json.loads(line))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a harness error, or target code calling sys.exit
            answer = {"error": f"{type(exc).__name__}: {_short(str(exc))}"}
        if answer is None:
            break
        proto_out.write(json.dumps(answer) + "\n")
        proto_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
