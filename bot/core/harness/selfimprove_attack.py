"""Attack a candidate with edge-case inputs, in the *target's* interpreter. Standard library only.

Run as ``<interpreter> selfimprove_attack.py <settings.json>`` in one worktree. Two modes:

* ``derive`` (in the base worktree): from every captured call of each target, make
  edge-case calls of the same shape (empty, single, duplicated, reversed, boundary sizes,
  unicode strings, large ints and floats, None where a captured call passed None there),
  run each on the base twice, and keep the deterministic ones as records in the capture
  format (base64 pickles of the arguments before and after, the result or exception), each
  with a ``label`` naming the input for a human.
* ``check`` (in a candidate worktree): replay those records and report every call whose
  outcome differs: another result, other arguments afterwards, another exception *type*
  (messages may differ), or no answer within the time limit.

Only this process unpickles captured data; the bot reads the JSON written to ``out``.
Settings: ``{"mode", "records", "out", "targets", "limit", "call_seconds",
"budget_seconds", "rel_tol", "abs_tol"}``.
"""

from __future__ import annotations

import base64
import inspect
import json
import math
import os
import pickle
import signal
import sys
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import selfimprove_replay as _replay  # beside this script, which is run by path

_HERE = os.path.dirname(os.path.abspath(__file__))

_LARGE_SIZE = 1000
_MAX_PER_SLOT = 24
_TIMEOUT_FACTOR = 5.0  # a candidate may take this much longer than the base's limit
_YIELDS = 1000  # items of a generator a derived call takes at most


class _Timeout(BaseException):
    """Raised inside a call that ran past its time limit."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def _call(
    func: Callable[..., Any], blob: bytes, seconds: float, record: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run ``func`` on a fresh copy of the pickled arguments: outcome, value, args after.

    A generator's value is the list of its items: as many as ``record`` (the base's derived
    record, when checking a candidate) says were taken, or when deriving at most
    ``_YIELDS``."""
    args, kwargs = pickle.loads(blob)
    timed = hasattr(signal, "setitimer")
    if timed:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    began = time.perf_counter()
    marks: dict[str, Any] = {}
    try:
        try:
            value = func(*args, **kwargs)
            if record is None and isinstance(value, types.GeneratorType):
                value = _replay.bounded(value, _YIELDS, marks)
            elif record is not None:  # a candidate's generator, taken as the base's was
                value = _replay.taken(value, record)
            outcome: dict[str, Any] = {"outcome": "return", "value": value}
        finally:
            if timed:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        return {"outcome": "timeout", "seconds": time.perf_counter() - began}
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # target code may raise anything, SystemExit included
        outcome = {"outcome": "raise", "type": _replay._exception_type(exc), "message": str(exc)}
    outcome.update(marks)
    outcome["after"] = (args, kwargs)
    outcome["seconds"] = time.perf_counter() - began
    return outcome


def _variants(value: Any) -> Iterator[tuple[str, Any]]:
    """(what it is, edge-case value) pairs of the same type as ``value``."""
    if isinstance(value, bool):
        yield "the other bool", not value
    elif isinstance(value, int):
        for whole in (0, 1, -1, value + 1, value - 1, -value, 2**31, 2**63, -(2**63), 10**30):
            yield "a boundary int", whole
    elif isinstance(value, float):
        for edge in (0.0, -0.0, 1.0, -value, 5e-324, 1e308, -1e308, math.inf, -math.inf):
            yield "a boundary float", edge
        yield "nan", math.nan
    elif isinstance(value, str):
        yield from _string_variants(value)
    elif isinstance(value, (bytes, bytearray)):
        kind = type(value)
        yield "empty bytes", kind(b"")
        yield "one byte", kind(value[:1])
        yield "doubled bytes", kind(value + value)
        yield "reversed bytes", kind(value[::-1])
        yield "NUL and 0xff bytes", kind(b"\x00\xff" + value)
    elif isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        yield from _sequence_variants(value)
    elif type(value) is dict:
        items = list(value.items())
        yield "an empty dict", {}
        if items:
            yield "a dict of one item", dict(items[:1])
            yield "a dict in reversed order", dict(items[::-1])
            key, first = items[0]
            for what, edge in _element_variants(first):
                yield f"a dict whose first value is {what}", {**value, key: edge}
    elif type(value) in (set, frozenset):
        kind = type(value)
        yield "an empty set", kind()
        if value:
            yield "a set of one item", kind(list(value)[:1])


def _string_variants(value: str) -> Iterator[tuple[str, str]]:
    yield "an empty string", ""
    yield "one character", value[:1]
    yield "a doubled string", value + value
    yield "a reversed string", value[::-1]
    yield "an upper-case string", value.upper()
    yield "a string padded with spaces", f"  {value}\t\n"
    yield "a string on two lines", f"{value}\n{value}"
    yield "unicode (accents, combining marks, emoji)", f"é{value}e\u0301👍"
    yield "unicode that changes length when case-folded", f"ß{value}İﬁ"
    yield "a NUL and a non-breaking space", f"{value}\x00\u00a0"
    yield (
        f"a string of {_LARGE_SIZE} characters",
        (value or "a") * (_LARGE_SIZE // max(1, len(value))),
    )


def _sequence_variants(value: list[Any] | tuple[Any, ...]) -> Iterator[tuple[str, Any]]:
    kind = type(value)
    name = kind.__name__
    items = list(value)
    yield f"an empty {name}", kind()
    if items:
        yield f"a {name} of one item", kind(items[:1])
        yield f"a {name} of two items", kind(items[:2])
        yield f"a {name} with every item twice", kind(items + items)
        yield f"a {name} of one item repeated", kind(items[:1] * len(items))
        yield f"a reversed {name}", kind(items[::-1])
        repeats = _LARGE_SIZE // len(items) + 1
        yield f"a {name} of {_LARGE_SIZE} items", kind((items * repeats)[:_LARGE_SIZE])
        for what, edge in _element_variants(items[0]):
            yield f"a {name} whose first item is {what}", kind([edge, *items[1:]])


def _element_variants(value: Any) -> Iterator[tuple[str, Any]]:
    """A few variants of an item inside a container (kept short: containers multiply)."""
    picked = 0
    for what, edge in _variants(value):
        if isinstance(edge, (list, tuple, dict, set, frozenset)) and len(edge) > 8:
            continue
        yield what, edge
        picked += 1
        if picked >= 6:
            return


def _slot_names(func: Callable[..., Any], count: int) -> list[str]:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [names[i] if i < len(names) else f"#{i}" for i in range(count)]


def _derived_inputs(func: Callable[..., Any], calls: list[Any]) -> Iterator[tuple[str, bytes]]:
    """(label, pickled (args, kwargs)) edge cases, round-robin over the captured calls."""
    loaded: list[tuple[int, list[Any], dict[str, Any]]] = []
    none_slots: set[Any] = set()
    for index, record in enumerate(calls):
        try:
            args, kwargs = pickle.loads(base64.b64decode(record["args"]))
        except Exception:
            continue
        loaded.append((index, list(args), dict(kwargs)))
        none_slots.update(i for i, a in enumerate(args) if a is None)
        none_slots.update(k for k, v in kwargs.items() if v is None)
    per_call = [
        _call_variants(func, index, args, kwargs, none_slots) for index, args, kwargs in loaded
    ]
    while per_call:
        for source in list(per_call):
            found = next(source, None)
            if found is None:
                per_call.remove(source)
            else:
                yield found


def _call_variants(
    func: Callable[..., Any],
    index: int,
    args: list[Any],
    kwargs: dict[str, Any],
    none_slots: set[Any],
) -> Iterator[tuple[str, bytes]]:
    names = _slot_names(func, len(args))
    slots: list[tuple[Any, str, Any]] = [(i, names[i], a) for i, a in enumerate(args)]
    slots += [(k, k, v) for k, v in kwargs.items()]
    for slot, name, value in slots:
        made = list(_variants(value))[:_MAX_PER_SLOT]
        if slot in none_slots and value is not None:
            made.append(("None (passed there by another captured call)", None))
        for what, edge in made:
            new_args, new_kwargs = list(args), dict(kwargs)
            if isinstance(slot, int):
                new_args[slot] = edge
            else:
                new_kwargs[slot] = edge
            try:
                blob = pickle.dumps((tuple(new_args), new_kwargs), protocol=4)
            except Exception:
                continue
            label = f"{name} = {_replay._short(edge)} ({what}; from captured call {index})"
            yield label, blob


def _record(
    func: Callable[..., Any], label: str, blob: bytes, seconds: float
) -> dict[str, Any] | None:
    """The base's deterministic outcome of one derived call, in the capture format."""
    first = _call(func, blob, seconds)
    if first["outcome"] == "timeout":
        return None
    second = _call(func, blob, seconds)
    if _difference(second, first, 1e-9, 0.0) is not None:
        return None  # the base does not reproduce itself here: nothing to hold a candidate to
    record: dict[str, Any] = {"args": _b64(blob), "label": label, "outcome": first["outcome"]}
    try:
        record["after"] = _b64(pickle.dumps(first["after"], protocol=4))
        if "yields" in first:  # a generator: its candidate's is taken as far
            record["yields"], record["exhausted"] = first["yields"], first["exhausted"]
        if first["outcome"] == "return":
            record["result"] = _b64(pickle.dumps(first["value"], protocol=4))
            record["error"] = None
        else:
            record["result"] = None
            record["error"] = {"type": first["type"], "message": first["message"]}
    except Exception:
        return None
    record["seconds"] = first["seconds"]
    return record


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _difference(
    got: dict[str, Any],
    want: dict[str, Any],
    rel_tol: float,
    abs_tol: float,
    moved: tuple[str, str] | None = None,
) -> str | None:
    """How a call's outcome differs from the expected one, or None when it does not.

    ``moved``: the checkouts ``got`` and ``want`` ran in (see ``Comparer``)."""
    short = _replay._short
    if got["outcome"] == "timeout":
        return f"no answer within {got['seconds']:.2g}s"
    if got["outcome"] != want["outcome"]:
        if want["outcome"] == "return":
            raised = f"{got['type']}: {short(got['message'])}"
            return f"base returned {short(want['value'])}, candidate raised {raised}"
        return f"base raised {want['type']}, candidate returned {short(got['value'])}"
    if got["outcome"] == "raise":
        if got["type"] != want["type"]:
            raised = f"{got['type']}: {short(got['message'])}"
            return f"base raised {want['type']}, candidate raised {raised}"
    else:
        found: str | None = _replay.Comparer(rel_tol, abs_tol, moved=moved).diff(
            got["value"], want["value"], "result"
        )
        if found:
            return found
    got_args, got_kwargs = got["after"]
    want_args, want_kwargs = want["after"]
    comparer = _replay.Comparer(rel_tol, abs_tol, moved=moved)
    after: str | None = comparer.diff(list(got_args), list(want_args), "arguments after the call")
    if after is None:
        after = comparer.diff(got_kwargs, want_kwargs, "keyword arguments after the call")
    return after


def _expected(record: dict[str, Any]) -> dict[str, Any]:
    want: dict[str, Any] = {"outcome": record["outcome"]}
    want["after"] = pickle.loads(base64.b64decode(record["after"]))
    if record["outcome"] == "return":
        want["value"] = pickle.loads(base64.b64decode(record["result"]))
    else:
        want["type"] = record["error"]["type"]
    return want


def derive(settings: dict[str, Any]) -> dict[str, Any]:
    with open(settings["records"], encoding="utf-8") as handle:
        captures = json.load(handle)
    deadline = time.monotonic() + float(settings["budget_seconds"])
    seconds = float(settings["call_seconds"])
    loader = _replay.Replayer({})
    targets: dict[str, Any] = {}
    for key in settings["targets"]:
        entry: dict[str, Any] = {"calls": [], "errors": [], "tried": 0}
        targets[key] = entry
        calls = captures.get(key, {}).get("calls", [])
        try:
            func = loader.function(key)
        except Exception as exc:
            entry["errors"].append(f"cannot load {key}: {type(exc).__name__}: {exc}")
            continue
        seen = {base64.b64decode(c["args"]) for c in calls if "args" in c}
        for label, blob in _derived_inputs(func, calls):
            if len(entry["calls"]) >= int(settings["limit"]) or time.monotonic() > deadline:
                break
            if blob in seen:
                continue
            seen.add(blob)
            entry["tried"] += 1
            record = _record(func, label, blob, seconds)
            if record is not None:
                entry["calls"].append(record)
    return {"targets": targets, "root": os.path.realpath(os.getcwd())}


def check(settings: dict[str, Any]) -> dict[str, Any]:
    with open(settings["records"], encoding="utf-8") as handle:
        document = json.load(handle)
    derived = document["targets"]
    moved = (os.path.realpath(os.getcwd()), str(document.get("root") or os.getcwd()))
    limit = float(settings["call_seconds"]) * _TIMEOUT_FACTOR
    loader = _replay.Replayer({})
    targets: dict[str, Any] = {}
    for key in settings["targets"]:
        entry: dict[str, Any] = {"calls": 0, "failures": [], "errors": []}
        targets[key] = entry
        try:
            func = loader.function(key)
        except Exception as exc:
            entry["errors"].append(f"cannot load {key}: {type(exc).__name__}: {exc}")
            continue
        for index, record in enumerate(derived.get(key, {}).get("calls", [])):
            try:
                want = _expected(record)
            except Exception:
                continue
            got = _call(func, base64.b64decode(record["args"]), limit, record)
            entry["calls"] += 1
            rel_tol, abs_tol = float(settings["rel_tol"]), float(settings["abs_tol"])
            why = _difference(got, want, rel_tol, abs_tol, moved)
            if why is not None:
                entry["failures"].append({"index": index, "label": record["label"], "reason": why})
    return {"targets": targets}


def main(argv: list[str]) -> int:
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    with open(argv[1], encoding="utf-8") as handle:
        settings = json.load(handle)
    answer = derive(settings) if settings["mode"] == "derive" else check(settings)
    with open(settings["out"], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
