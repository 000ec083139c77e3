"""May a function be memoised? Judged from its captured calls, in the *target's* interpreter.

Run as ``<interpreter> selfimprove_purity.py <settings.json>`` in the base worktree.
Standard library only; only this process unpickles the captured data, and the bot reads the
JSON answer written to ``out``. Settings: ``{"records", "target", "out"}``.

A cache returns the first result for equal arguments, so every captured call must have:
hashable arguments (the cache key), arguments unchanged by the call (a cached call would
skip the change), the same result when run twice on fresh copies of its arguments (nothing
but the arguments decides it) and an immutable result (callers share one cached object).
Calls that raised are fine: ``functools.lru_cache`` does not cache exceptions. A call
that returned a generator is not: every caller after the first would get it exhausted.

Answer: ``{"calls", "distinct", "reason", "entry_bytes"}``; ``reason`` is null when every
call qualifies, ``distinct`` counts different cache keys (``typed=True``), and
``entry_bytes`` is the mean size of a key plus its result plus the cache's own overhead.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from typing import Any

import selfimprove_replay as _replay  # beside this script, which is run by path

_HERE = os.path.dirname(os.path.abspath(__file__))
_ENTRY_OVERHEAD = 120  # an lru_cache link (a 4-item list) and its dict slot, in bytes
_DEEP_LIMIT = 10_000


def _size(value: Any, seen: set[int] | None = None) -> int:
    """Bytes held by ``value`` and what it contains (tuples, frozensets, dict items)."""
    seen = set() if seen is None else seen
    if id(value) in seen or len(seen) > _DEEP_LIMIT:
        return 0
    seen.add(id(value))
    total = sys.getsizeof(value)
    if isinstance(value, tuple | frozenset | list | set):
        total += sum(_size(item, seen) for item in value)
    elif isinstance(value, dict):
        total += sum(_size(k, seen) + _size(v, seen) for k, v in value.items())
    return total


def _key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The key ``lru_cache(typed=True)`` builds: values, then the type of each."""
    values = (*args, *kwargs.items())
    return (values, tuple(type(v) for v in (*args, *kwargs.values())))


def _unhashable(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    for where, value in [*enumerate(args), *kwargs.items()]:
        try:
            hash(value)
        except TypeError:
            return f"argument {where} is unhashable ({type(value).__name__})"
    return None


def judge(captures: dict[str, Any], key: str) -> dict[str, Any]:
    """The verdict on ``key``'s captured calls (see the module docstring)."""
    replayer = _replay.Replayer(captures)
    records = replayer.records(key)
    answer: dict[str, Any] = {"calls": len(records), "distinct": 0, "reason": None}
    answer["entry_bytes"] = 0
    try:
        func = replayer.function(key)
    except Exception as exc:
        answer["reason"] = f"cannot load {key}: {type(exc).__name__}: {exc}"
        return answer
    keys: set[tuple[Any, ...]] = set()
    sizes: list[int] = []
    for index, record in enumerate(records):
        reason = _call_reason(replayer, func, record, keys, sizes)
        if reason is not None:
            answer["reason"] = f"call {index}: {reason}"
            return answer
    answer["distinct"] = len(keys)
    answer["entry_bytes"] = round(sum(sizes) / len(sizes)) + _ENTRY_OVERHEAD if sizes else 0
    return answer


def _call_reason(
    replayer: _replay.Replayer,
    func: Any,
    record: dict[str, Any],
    keys: set[tuple[Any, ...]],
    sizes: list[int],
) -> str | None:
    """Why this call rules a cache out, or None; adds its key and size when it does not."""
    if "yields" in record:
        return "returns a generator: a cached one is exhausted after its first caller"
    blob = base64.b64decode(record["args"])
    args, kwargs = replayer.loads(blob, _replay.NATIVE)
    unhashable = _unhashable(args, kwargs)
    if unhashable:
        return unhashable
    after = replayer.loads(base64.b64decode(record["after"]), _replay.NATIVE)
    if _replay.Comparer(0.0, 0.0).diff((args, kwargs), after, "arguments") is not None:
        return "the call changes its arguments"
    keys.add(_key(args, kwargs))
    if record["outcome"] != "return":
        return None
    recorded = replayer.loads(base64.b64decode(record["result"]), _replay.NATIVE)
    if not _replay._immutable(recorded):
        return f"returns a mutable {type(recorded).__name__}, which callers would share"
    results = []
    for _ in range(2):
        fresh_args, fresh_kwargs = replayer.loads(blob, _replay.NATIVE)
        try:
            results.append(func(*fresh_args, **fresh_kwargs))
        except Exception as exc:
            return f"raised {type(exc).__name__} on a repeat, where the capture returned"
    for got in results:
        if _replay.Comparer(0.0, 0.0).diff(got, recorded, "result") is not None:
            return "gives another result on a repeat call"
    sizes.append(_size(_key(args, kwargs)) + _size(recorded))
    return None


def main(argv: list[str]) -> int:
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    with open(argv[1], encoding="utf-8") as handle:
        settings = json.load(handle)
    with open(settings["records"], encoding="utf-8") as handle:
        captures = json.load(handle)
    answer = judge(captures, str(settings["target"]))
    with open(settings["out"], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
