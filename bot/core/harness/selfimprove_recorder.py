"""The call recorder of the capture plugin (``selfimprove_pytest.py``; target's interpreter,
standard library only): a wrapper per target that keeps a seeded reservoir of pickled calls
(the fair sample the performance gate times) and the calls that ran a line no kept call had
run, within budgets of traced calls, trace events, seconds and argument sizes, so a hot
target cannot make the suite crawl.

A call that returns a generator made by the target's code is recorded as its caller
consumes it (``_Yields``): the caller gets a pass-through generator, and the record ends
when the generator is exhausted, raises, is closed or collected, or passes a cap of items
or pickled bytes (after the cap items still pass through, unrecorded). Its ``result`` is
the list of items taken, with ``yields`` (how many) and ``exhausted`` (whether it ran to
its end), and its arguments after are taken then, so replay takes the same items. ``send``
of a value other than None and ``throw`` pass through too, but such a call is not
recorded: replay could not repeat what the caller sent. The caller's generator is another
object than the target's, named alike (its repr reads the same), but its ``gi_frame`` and
``gi_code`` are the pass-through's.
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
_YIELD_ITEMS = 10_000  # items of a generator call recorded; the rest only pass through
_YIELD_BYTES = 1 << 20  # pickled bytes of a generator call's items recorded
_HEAD = 8  # items of a generator call shown in its ``result_repr``


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
    if _own_generator(result, recorder):
        passing = _passing(result, _Yields(recorder, slot, record, (kept, kwargs), lines))
        passing.__name__, passing.__qualname__ = result.__name__, result.__qualname__
        return passing
    try:
        record["result"] = b64(pickle.dumps(result, protocol=4))
        record["result_repr"] = _short_repr(result)
    except Exception:
        recorder.unpicklable += slot is not None  # a sampled call
        return result
    _finish(recorder, slot, record, kept, kwargs, lines)
    return result


def _own_generator(result, recorder):
    """Whether ``result`` is a generator made by the target's own code (a generator function,
    or a generator expression in its body): fresh for this call, so it can be recorded as
    it is consumed. Other iterators are never consumed by the recorder."""
    return isinstance(result, types.GeneratorType) and result.gi_code in recorder.codes


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


class _Yields:
    """The record of one generator call, filled in as its caller takes the items.

    Each item is pickled when it is taken (the caller may change it afterwards); the record
    is finished once, when the generator ends or the caller stops, or at the caps.
    """

    def __init__(self, recorder, slot, record, arguments, lines):
        self.recorder = recorder
        self.slot = slot
        self.record = record
        self.arguments = arguments  # (args, kwargs) as recorded: pickled again at the end
        self.lines = lines
        self.blobs = []
        self.size = 0
        self.head = []
        self.done = False

    def step(self, gen, sent, thrown):
        """Resume ``gen`` (traced while its record is open); a recursive call inside is part
        of this call, as it is for a plain function."""
        if sent is not None or thrown is not None:
            self.abandon()  # replay cannot repeat what the caller sent in
        traced = not self.done and self.lines is not None and sys.gettrace() is None
        charged = self.slot is None and not self.done  # recorded only to be traced
        began = time.perf_counter()
        self.recorder.depth += 1
        if traced:
            sys.settrace(_line_tracer(self.recorder, self.lines))
        try:
            return gen.throw(thrown) if thrown is not None else gen.send(sent)
        finally:
            if traced:
                sys.settrace(None)
            self.recorder.depth -= 1
            if charged:  # a call recorded only to be traced costs the budget
                self.recorder.trace_seconds -= time.perf_counter() - began

    def note(self, item):
        """Add an item the caller takes; past the caps the record ends before it."""
        if self.done:
            return
        if not _small((item,), {}, _LARGE_BYTES):
            self.finish(exhausted=False)
            return
        try:
            blob = pickle.dumps(item, protocol=4)
        except Exception:
            self.abandon()
            return
        if self.size + len(blob) > _YIELD_BYTES:
            self.finish(exhausted=False)
            return
        self.blobs.append(blob)
        self.size += len(blob)
        if len(self.head) < _HEAD:
            self.head.append(item)
        if len(self.blobs) >= _YIELD_ITEMS:
            self.finish(exhausted=False)

    def abandon(self):
        """Record nothing of this call (its items still pass through)."""
        if not self.done:
            self.done = True
            self.recorder.unpicklable += self.slot is not None

    def finish(self, exhausted, error=None):
        """Close the record: the items taken so far, and the arguments as they are now."""
        if self.done:
            return
        self.done = True
        record = self.record
        try:
            items = [pickle.loads(blob) for blob in self.blobs]
            record["result"] = b64(pickle.dumps(items, protocol=4))
        except Exception:
            self.recorder.unpicklable += self.slot is not None
            return
        record["yields"] = len(items)
        record["exhausted"] = exhausted
        more = len(items) - len(self.head)
        record["result_repr"] = f"yields {_short_repr(self.head)}" + (
            f" and {more} more" if more else ""
        )
        if error is not None:
            record["outcome"] = "raise"
            record["error"] = _exception_info(error)
        args, kwargs = self.arguments
        _finish(self.recorder, self.slot, record, args, kwargs, self.lines)


def _passing(gen, yields):
    """Yield what ``gen`` yields, passing ``send``, ``throw`` and ``close`` on as ``yield
    from`` would, while ``yields`` records the items the caller takes."""
    sent = thrown = None
    try:
        while True:
            try:
                item = yields.step(gen, sent, thrown)
            except StopIteration as stop:
                yields.finish(exhausted=True)
                return stop.value
            except Exception as exc:
                yields.finish(exhausted=True, error=exc)
                raise
            yields.note(item)
            sent = thrown = None
            try:
                sent = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:  # thrown in by the caller: on to the generator
                thrown = exc
    finally:
        try:
            gen.close()
        finally:
            yields.finish(exhausted=False)  # closed, collected or interrupted: a prefix
