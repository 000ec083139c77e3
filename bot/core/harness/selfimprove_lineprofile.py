"""Line-profile one function on its captured calls, in the *target's* interpreter. Stdlib only.

Run as ``<interpreter> selfimprove_lineprofile.py <settings.json>`` in a worktree; settings
are ``{"records", "target", "out", "budget_seconds"}``. The captured calls of ``target``
are replayed (fresh arguments each time) under a trace hook that charges the time between
line events to the line that was running, for that function's own frames only. The answer
written to ``out``: ``{"lines": [{"line", "seconds", "hits", "source"}], "calls": n,
"passes": p}``, hottest first. Tracing slows everything down; the shares, not the seconds,
are the signal. Passes over the calls repeat until ``budget_seconds``, so their number
varies; ``hits`` are those of the first pass alone, which depend only on the code and the
recorded calls (a prompt shows them and must not change between runs).

``rewritten`` in the answer lists names the running code uses that the function's source
never mentions: a decorator recompiled it (typeguard's ``@typechecked`` wraps every
``return`` in a check whose pieces carry the first ``return``'s line number), so the lines
its events name are not the lines that ran, and hits cannot say whether a line ran.
"""

from __future__ import annotations

import base64
import inspect
import json
import linecache
import os
import pickle
import re
import sys
import time
import types
from typing import Any

import selfimprove_replay as _replay  # beside this script, which is run by path

_HERE = os.path.dirname(os.path.abspath(__file__))
# Names Python itself adds: super()'s cell, and a class body's own (a class in a function).
_IMPLICIT = {"__class__", "__module__", "__qualname__", "__name__"}


class LineClock:
    """Per-line time and hits of one code object, fed by ``sys.settrace``."""

    def __init__(self, code: types.CodeType) -> None:
        self.code = code
        self.seconds: dict[int, float] = {}
        self.hits: dict[int, int] = {}
        self.counting = True  # hits are counted on the first pass only
        self.last: dict[int, tuple[int, float]] = {}  # frame id -> (line, since)

    def global_trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        return self.local_trace if frame.f_code is self.code else None

    def local_trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        now = time.perf_counter()
        key = id(frame)
        previous = self.last.get(key)
        if previous is not None:
            line, since = previous
            self.seconds[line] = self.seconds.get(line, 0.0) + (now - since)
        if event == "line":
            if self.counting:
                self.hits[frame.f_lineno] = self.hits.get(frame.f_lineno, 0) + 1
            self.last[key] = (frame.f_lineno, time.perf_counter())
        elif event == "return":
            self.last.pop(key, None)
        else:
            self.last[key] = (frame.f_lineno, time.perf_counter())
        return self.local_trace


def _used_names(code: types.CodeType) -> set[str]:
    """Every name ``code`` and the code nested in it use (locals, globals, attributes)."""
    names = {*code.co_varnames, *code.co_names, *code.co_freevars, *code.co_cellvars}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _used_names(const)
    return names


def rewritten(code: types.CodeType) -> list[str]:
    """Names ``code`` uses that its source lines never spell ([] when it is the source's)."""
    try:
        lines, _ = inspect.getsourcelines(code)
    except (OSError, TypeError):
        return []
    spelled = set(re.findall(r"\w+", "".join(lines))) | _IMPLICIT
    return sorted(n for n in _used_names(code) if not set(_spellings(n)) & spelled)


def _spellings(name: str) -> list[str]:
    """How the source may spell ``name``: ``__x`` for a mangled ``_Class__x``, each part of
    a dotted module, and ``.0`` (a comprehension's argument) as nothing to look for."""
    if name.startswith("."):
        return list(_IMPLICIT)
    mangled = re.fullmatch(r"_[A-Za-z0-9]\w*?(__\w+)", name)
    return [name, *(mangled.groups() if mangled else ()), *name.split(".")]


def profile(settings: dict[str, Any]) -> dict[str, Any]:
    with open(settings["records"], encoding="utf-8") as handle:
        captures = json.load(handle)
    key = settings["target"]
    func = _replay.Replayer({}).function(key)
    code = getattr(func, "__code__", None)
    if code is None:
        return {"lines": [], "calls": 0, "error": f"{key} has no Python code to profile"}
    clock = LineClock(code)
    records = list(captures.get(key, {}).get("calls", []))
    deadline = time.monotonic() + float(settings["budget_seconds"])
    calls = passes = 0
    while records and (passes == 0 or time.monotonic() < deadline):
        clock.counting = passes == 0
        passes += 1
        for record in records:
            args, kwargs = pickle.loads(base64.b64decode(record["args"]))
            sys.settrace(clock.global_trace)
            try:
                _replay.taken(func(*args, **kwargs), record)  # a generator runs as it is taken
            except Exception:  # the call raised when it was captured too
                pass
            finally:
                sys.settrace(None)
            calls += 1
    filename = code.co_filename
    lines = [
        {
            "line": line,
            "seconds": seconds,
            "hits": clock.hits.get(line, 0),
            "source": linecache.getline(filename, line).strip(),
        }
        for line, seconds in sorted(clock.seconds.items(), key=lambda item: -item[1])
    ]
    return {"lines": lines, "calls": calls, "passes": passes, "rewritten": rewritten(code)}


def main(argv: list[str]) -> int:
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    with open(argv[1], encoding="utf-8") as handle:
        settings = json.load(handle)
    try:
        answer = profile(settings)
    except Exception as exc:
        answer = {"lines": [], "calls": 0, "error": f"{type(exc).__name__}: {exc}"}
    with open(settings["out"], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
