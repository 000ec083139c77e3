"""The call recorder of the capture plugin (``selfimprove_pytest.py``; target's interpreter,
standard library only): a wrapper per target that keeps a seeded reservoir of pickled calls
(the fair sample the performance gate times) and the calls that ran a line no kept call had
run, within budgets of traced calls, trace events, seconds and argument sizes, so a hot
target cannot make the suite crawl.
"""

from __future__ import annotations

import functools
import pickle
import random
import reprlib
import sys
import time
import types

from selfimprove_builds import how_built
from selfimprove_project import RUNNING, b64

_TRACED_CALLS = 2000  # the first calls of a target whose lines are traced
_TRACE_EVENTS = 200_000  # trace events a target may cost in all (calls and lines seen)
_TRACE_SECONDS = 3.0  # seconds a target's calls recorded only to be traced may take in all
_SMALL_BYTES = 16384  # an argument this big at its top level is not pickled just to trace
_LARGE_BYTES = 1 << 20  # a call with an argument this big at its top level is not recorded


class Recorder:
    """A seeded reservoir of pickled calls to one function, and the calls that covered new
    lines of it (``distinct``)."""

    def __init__(self, limit, codes, kind="plain"):
        self.limit = limit
        self.kind = kind  # "plain" (a function), "method", "static" or "class"
        self.calls = []
        self.seen = 0
        self.unpicklable = 0
        self.depth = 0
        self.rng = random.Random(0)
        self.codes = codes  # the target's code objects: its own and those nested in it
        self.distinct = []
        self.covered = set()
        self.tests = set()  # node ids of the tests it was called in (None: outside any)
        self.trace_budget = _TRACE_EVENTS  # trace events left before tracing stops for good
        self.trace_seconds = _TRACE_SECONDS  # time left for calls recorded only to be traced

    def tracing(self):
        """Whether to trace the lines of this call: an early one, with a place for a new
        distinct call, and no other tracer (coverage, a debugger) to disturb."""
        return (
            self.seen <= _TRACED_CALLS
            and self.trace_budget > 0
            and self.trace_seconds > 0
            and len(self.distinct) < max(1, self.limit // 2)
            and sys.gettrace() is None
        )

    def keep_if_new(self, record, lines):
        """Keep ``record`` as a distinct call if it ran a line no distinct call ran."""
        if lines - self.covered and len(self.distinct) < max(1, self.limit // 2):
            self.covered |= lines
            self.distinct.append(record)

    def kept(self):
        """The reservoir, then the distinct calls not already in it."""
        sampled = {id(record) for record in self.calls}
        return self.calls + [r for r in self.distinct if id(r) not in sampled]

    def slot(self):
        """Where the next call goes in the reservoir, or None to skip recording it."""
        self.seen += 1
        if len(self.calls) < self.limit:
            return len(self.calls)
        pick = self.rng.randrange(self.seen)
        return pick if pick < self.limit else None

    def store(self, slot, record):
        if slot >= len(self.calls):
            self.calls.append(record)
        else:
            self.calls[slot] = record


_REPR = reprlib.Repr()
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 8
_REPR.maxstring = _REPR.maxother = 120


def _short_repr(value, limit=300):
    """A short repr for prompts (the bot reads this text, never the pickles); reprlib keeps
    a huge argument from being rendered whole."""
    try:
        text = _REPR.repr(value)
    except Exception as exc:
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _exception_info(exc):
    kind = type(exc)
    return {"type": f"{kind.__module__}.{kind.__qualname__}", "message": str(exc)}


def wrap(func, recorder, kind="plain"):
    """``func`` recording its calls; ``kind`` "class" drops ``cls``, "method" notes the
    receiver's construction."""

    @functools.wraps(func)
    def recorded(*args, **kwargs):
        if recorder.depth:  # a recursive call is part of its outermost call
            return func(*args, **kwargs)
        recorder.tests.add(RUNNING[0])
        slot = recorder.slot()
        if slot is not None and not _small(args, kwargs, _LARGE_BYTES):
            recorder.unpicklable += 1  # pickling it would cost more than any use of it
            slot = None
        traced = recorder.tracing() and (slot is not None or _small(args, kwargs))
        lines: set[int] | None = set() if traced else None
        if slot is None and lines is None:
            return _call(func, recorder, args, kwargs)
        if slot is None:  # recorded only in case it runs new lines: that costs the budget
            began = time.perf_counter()
            try:
                return _record(func, recorder, kind, slot, lines, args, kwargs)
            finally:
                recorder.trace_seconds -= time.perf_counter() - began
        return _record(func, recorder, kind, slot, lines, args, kwargs)

    return recorded


def _small(args, kwargs, limit=_SMALL_BYTES):
    """Whether every argument is under ``limit`` bytes at its top level (a cheap guess at
    what pickling it costs): a call that may not be kept is pickled only when small, and
    none is recorded at all when huge (a sieve's 50 MB bytearray, hundreds of times over,
    took a suite from 15 s to 500 s)."""
    try:
        return all(sys.getsizeof(a) < limit for a in (*args, *kwargs.values()))
    except Exception:
        return False


def _record(func, recorder, kind, slot, lines, args, kwargs):
    """Call ``func`` and record the call: in reservoir ``slot`` (if any), and among the
    distinct calls when ``lines`` (the lines it ran) holds one no kept call ran."""
    kept = args[1:] if kind == "class" else args
    try:
        before = pickle.dumps((kept, kwargs), protocol=4)
    except Exception:
        recorder.unpicklable += slot is not None  # a sampled call
        return _call(func, recorder, args, kwargs)
    record = {"args": b64(before), "outcome": "return", "result": None, "error": None}
    record["args_repr"] = _short_repr((kept, kwargs))
    if kind == "method" and args:
        record["receiver"] = how_built(args[0])
    try:
        result = _call(func, recorder, args, kwargs, lines)
    except Exception as exc:
        record["outcome"] = "raise"
        record["error"] = _exception_info(exc)
        _finish(recorder, slot, record, kept, kwargs, lines)
        raise
    try:
        record["result"] = b64(pickle.dumps(result, protocol=4))
        record["result_repr"] = _short_repr(result)
    except Exception:
        recorder.unpicklable += slot is not None  # a sampled call
        return result
    _finish(recorder, slot, record, kept, kwargs, lines)
    return result


def _call(func, recorder, args, kwargs, lines=None):
    """``func(*args, **kwargs)``; with ``lines`` a set, the target's lines it ran go there."""
    recorder.depth += 1
    if lines is not None:
        sys.settrace(_line_tracer(recorder, lines))
    try:
        return func(*args, **kwargs)
    finally:
        if lines is not None:
            sys.settrace(None)
        recorder.depth -= 1


def _line_tracer(recorder, lines):
    """A ``sys.settrace`` function that notes the lines run in frames of the target's code.

    Every event it sees costs the recorder's budget; when that runs out tracing stops, for
    this call and the ones after: a target that calls a generator millions of times would
    otherwise make the suite crawl."""
    codes = recorder.codes

    def spend():
        recorder.trace_budget -= 1
        if recorder.trace_budget <= 0:
            sys.settrace(None)
            return False
        return True

    def local(frame, event, arg):
        if not spend():
            return None
        if event == "line":
            lines.add(frame.f_lineno)
        return local

    def calls(frame, event, arg):
        if not spend():
            return None
        return local if frame.f_code in codes else None

    return calls


def codes_of(code):
    """``code`` and the code objects nested in it (comprehensions, inner functions)."""
    found = {code}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= codes_of(const)
    return found


def _finish(recorder, slot, record, args, kwargs, lines=None):
    try:
        record["after"] = b64(pickle.dumps((args, kwargs), protocol=4))
    except Exception:
        recorder.unpicklable += slot is not None
        return
    if slot is not None:
        recorder.store(slot, record)
    if lines:
        recorder.keep_if_new(record, lines)
