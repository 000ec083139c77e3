"""Shrink an input while a property still holds: the smallest input that tells two apart.

Imported by ``selfimprove_mutant_diff.py`` (same folder) inside the *target's* interpreter;
standard library only. Greedy, first improvement: each round tries smaller versions of one
argument at a time (the biggest cuts first) and keeps the first one on which the property
still holds; it stops when no smaller version does, or the budget is spent. Smaller means
a shorter ``repr``, then fewer non-integral floats, then numbers nearer 0, so it always ends.

Smaller versions of a value: empty, halves, prefixes and single elements of sequences and
strings; subsets of dicts and sets; numbers moved toward 0 (0, truncated, one step, half);
and, for short containers, each element shrunk in place.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

_SINGLES = 8  # single elements tried from a long sequence
_SHORT = 8  # containers up to this long also have each element dropped and shrunk

Call = tuple[list[Any], dict[str, Any]]


def complexity(value: Any) -> tuple[int, int, float]:
    """How big an input looks in a test: repr length, non-integral floats, magnitude."""
    fractional = 0
    magnitude = 0.0
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, bool):
            magnitude += int(item)
        elif isinstance(item, (int, float)):
            if isinstance(item, float) and math.isfinite(item) and not item.is_integer():
                fractional += 1
            magnitude += min(abs(float(item)), 1e300) if item == item else 1e300
        elif isinstance(item, (list, tuple, set, frozenset)):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
    return len(repr(value)), fractional, magnitude


def _toward_zero(value: int | float) -> Iterator[int | float]:
    kind = type(value)
    yield kind(0)
    if isinstance(value, float) and math.isfinite(value):
        yield float(math.trunc(value))
    if abs(value) >= 1:
        yield value - kind(1 if value > 0 else -1)
    yield value / 2 if isinstance(value, float) else int(value / 2)


def _pieces(value: Any) -> Iterator[Any]:
    """Shorter versions of a sequence, string, set or dict, the biggest cuts first."""
    kind = type(value)
    items: list[Any] = list(value.items()) if isinstance(value, dict) else list(value)
    if isinstance(value, (set, frozenset)):
        items.sort(key=repr)
    rebuild: Callable[[list[Any]], Any]
    if isinstance(value, str):
        rebuild = "".join
    elif isinstance(value, bytes):
        rebuild = bytes
    else:
        rebuild = kind
    count = len(items)
    if not count:
        return
    yield rebuild([])
    half = count // 2
    if half:
        yield rebuild(items[:half])
        yield rebuild(items[half:])
    for index in range(min(count, _SINGLES)):
        yield rebuild(items[index : index + 1])
    if count <= _SHORT:
        for index in range(count):
            yield rebuild(items[:index] + items[index + 1 :])


def smaller(value: Any) -> Iterator[Any]:
    """Candidate smaller versions of ``value``, the biggest cuts first."""
    if isinstance(value, bool):
        if value:
            yield False
    elif isinstance(value, (int, float)):
        yield from _toward_zero(value)
    elif isinstance(value, (str, bytes, set, frozenset)) or type(value) in (list, tuple, dict):
        yield from _pieces(value)
        if type(value) in (list, tuple) and len(value) <= _SHORT:
            for index, item in enumerate(value):
                for other in smaller(item):
                    changed = list(value)
                    changed[index] = other
                    yield type(value)(changed)
        elif type(value) is dict and len(value) <= _SHORT:
            for key, item in value.items():
                for other in smaller(item):
                    yield {**value, key: other}


def _smaller_calls(call: Call) -> Iterator[Call]:
    args, kwargs = call
    for index, value in enumerate(args):
        for other in smaller(value):
            yield [*args[:index], other, *args[index + 1 :]], kwargs
    for name, value in kwargs.items():
        for other in smaller(value):
            yield args, {**kwargs, name: other}


def shrink(
    call: Call, holds: Callable[[Call], bool], seconds: float, max_tries: int
) -> tuple[Call, int]:
    """The smallest call found on which ``holds`` is still true, and how many were tried.

    ``holds`` gets a deep copy of each candidate, so a call that changes its arguments in
    place cannot spoil the next try.
    """
    deadline = time.monotonic() + seconds
    tries = 0
    current, size = call, complexity(call)
    improved = True
    while improved and tries < max_tries and time.monotonic() < deadline:
        improved = False
        for candidate in _smaller_calls(current):
            if tries >= max_tries or time.monotonic() >= deadline:
                break
            cost = complexity(candidate)
            if cost >= size:
                continue
            tries += 1
            if holds(copy.deepcopy(candidate)):
                current, size, improved = candidate, cost, True
                break
    return current, tries
