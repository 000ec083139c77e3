"""pytest plugin the bot loads into the target's own test run (``-p selfimprove_pytest``).

It runs inside the target's interpreter, in a worktree, never in the bot's process, and
uses only the standard library and pytest's hooks. Its settings come from the JSON file
named by ``SELFIMPROVE_HARNESS``; it writes one JSON report to the path given there:

* always: the outcome of every test and the ``sys.path`` entries inside the project;
* ``profile``: cProfile over the test loop, the project's own functions with their times;
* ``capture``: calls to the target functions, pickled (arguments before and after the
  call, return value or exception), a seeded reservoir sample capped per function, and
  how each is bound (``kind``: "plain", "method", "static" or "class"). A
  class method's record leaves out ``cls`` (replay binds it again). A method's record says
  how its receiver was built (``receiver``): the constructor call of the receiver's class,
  and the module-level factory that made that call when there was one, each with its
  pickled arguments, and the last calls made on it from outside its module before this
  one (``setup``: ``p.classical(all=True)``); or ``refused`` with the reason.
  After the reservoir (``sampled`` calls, a fair sample: the only ones timed) come up to
  half as many again chosen for coverage: among the first calls, each one that ran a
  line of the target no kept call had run. A line the tests run but never check is where
  a mutant survives, and a random sample of a hot function's calls easily misses it.
  ``tests`` lists the tests during which the target was called (null if it was also called
  outside any test): only they can notice a change to its body.
* ``select``: only these test node ids run (the others are deselected after collection).
"""

from __future__ import annotations

import base64
import collections
import cProfile
import functools
import importlib
import inspect
import json
import os
import pickle
import pstats
import random
import reprlib
import sys
import time
import types
import weakref
from typing import Any

import pytest

_CONFIG = json.loads(open(os.environ["SELFIMPROVE_HARNESS"]).read())  # noqa: SIM115
_PROJECT = os.path.realpath(os.getcwd())
_OUTCOMES: dict[str, str] = {}
_ERRORS: list[str] = []
_REPORT: dict[str, Any] = {"outcomes": _OUTCOMES, "errors": _ERRORS}
_PROFILER = cProfile.Profile() if _CONFIG.get("profile") else None
_RECORDERS: dict[str, _Recorder] = {}
_UNWRAP: list[tuple[Any, str, Any]] = []
# id(instance) -> (ref, {"constructor"/"factory": (module:qualname, args, kwargs)})
_BUILT: dict[int, tuple[Any, dict[str, Any]]] = {}
_MAX_STRONG = 10000  # instances that cannot be weakly referenced are kept, up to this many
_MAX_RECIPE = 100_000  # bytes of pickled constructor arguments worth keeping
_SETUP_CALLS = 32  # calls made on a receiver after it was built, the last ones kept
_TRACED_CALLS = 2000  # the first calls of a target whose lines are traced
_TRACE_EVENTS = 200_000  # trace events a target may cost in all (calls and lines seen)
_TRACE_SECONDS = 3.0  # seconds a target's calls recorded only to be traced may take in all
_SMALL_BYTES = 16384  # an argument this big at its top level is not pickled just to trace
_LARGE_BYTES = 1 << 20  # a call with an argument this big at its top level is not recorded
_RUNNING: list[str | None] = [None]  # the node id of the test running now


def _inside_project(path):
    real = os.path.realpath(path)
    return real == _PROJECT or real.startswith(_PROJECT + os.sep)


def _relative(path):
    return os.path.relpath(os.path.realpath(path), _PROJECT).replace(os.sep, "/")


def _b64(data):
    return base64.b64encode(data).decode("ascii")


class _Recorder:
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


def _wrap(func, recorder, kind="plain"):
    """``func`` recording its calls; ``kind`` "class" drops ``cls``, "method" notes the
    receiver's construction."""

    @functools.wraps(func)
    def recorded(*args, **kwargs):
        if recorder.depth:  # a recursive call is part of its outermost call
            return func(*args, **kwargs)
        recorder.tests.add(_RUNNING[0])
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
    record = {"args": _b64(before), "outcome": "return", "result": None, "error": None}
    record["args_repr"] = _short_repr((kept, kwargs))
    if kind == "method" and args:
        record["receiver"] = _how_built(args[0])
    try:
        result = _call(func, recorder, args, kwargs, lines)
    except Exception as exc:
        record["outcome"] = "raise"
        record["error"] = _exception_info(exc)
        _finish(recorder, slot, record, kept, kwargs, lines)
        raise
    try:
        record["result"] = _b64(pickle.dumps(result, protocol=4))
        record["result_repr"] = _short_repr(result)
    except Exception:
        recorder.unpicklable += slot is not None  # a sampled call
        return result
    _finish(recorder, slot, record, kept, kwargs, lines)
    return result


def _how_built(receiver):
    """How ``receiver`` was built, as recorded when its constructor ran, or why not known."""
    entry = _BUILT.get(id(receiver))
    if entry is not None and entry[0]() is receiver:  # pickled now: most are never asked for
        how = {way: _pickled_call(*call) for way, call in entry[1].items() if way != "setup"}
        how["setup"] = _pickled_setup(list(entry[1]["setup"]))
        return how
    kind = type(receiver)
    if _test_file(_module_file(kind) or ""):
        return {
            "refused": f"a {kind.__qualname__}, a class the tests define (no new test "
            "can import it)"
        }
    return {
        "refused": f"no call building this {kind.__qualname__} was seen while the tests ran "
        "(built before they started, copied, unpickled, or by a subclass with its own __init__)"
    }


def _pickled_call(callee, args, kwargs):
    """``{"call": "module:qualname", "args": b64 pickle}``, or ``{"refused": why}``."""
    try:
        blob = pickle.dumps((tuple(args), dict(kwargs)), protocol=4)
    except Exception as exc:
        return {
            "call": callee,
            "refused": f"its arguments cannot be pickled ({type(exc).__name__})",
        }
    if len(blob) > _MAX_RECIPE:
        return {"call": callee, "refused": "its arguments are too large to keep"}
    return {"call": callee, "args": _b64(blob)}


def _pickled_setup(calls):
    """The calls made on a receiver after it was built: ``{"calls": b64 pickle}``.

    A call whose arguments cannot be pickled is left out (the receiver it gives is compared
    with the recorded one anyway)."""
    kept = []
    for call in calls:
        try:
            pickle.dumps(call, protocol=4)
        except Exception:
            continue
        kept.append(call)
    return {"calls": _b64(pickle.dumps(kept, protocol=4))}


def _factory_call(frame):
    """The module-level project function running in ``frame``: (key, args, kwargs), or None.

    A test's own helpers (test modules, conftest) do not count: a new test cannot import them.
    """
    code = frame.f_code
    module = frame.f_globals.get("__name__", "")
    if (
        not _inside_project(code.co_filename)
        or _test_file(code.co_filename)
        or not _defines(frame.f_globals, code)
        or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
    ):
        return None
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    values = frame.f_locals
    if any(name not in values for name in names):
        return None
    positional = [values[n] for n in names[: code.co_argcount]]
    keywords = {n: values[n] for n in names[code.co_argcount :]}
    return f"{module}:{code.co_name}", positional, keywords


def _test_file(path):
    """Whether ``path`` is a test module or a conftest (nothing a new test may import)."""
    base = os.path.basename(path)
    return base.startswith("test_") or base.endswith("_test.py") or base == "conftest.py"


def _defines(namespace, code):
    """Whether ``namespace`` (a module's globals) holds the function whose code is ``code``."""
    return getattr(namespace.get(code.co_name), "__code__", None) is code


def _remember(instance, how):
    key = id(instance)
    ref: Any
    try:
        ref = weakref.ref(instance)
        weakref.finalize(instance, _BUILT.pop, key, None)
    except TypeError:  # no weak references to it: keep it alive so its id stays its own
        if len(_BUILT) >= _MAX_STRONG:
            return
        ref = functools.partial(_same, instance)
    _BUILT[key] = (ref, how)


def _same(value):
    return value


def _module_file(cls):
    return getattr(sys.modules.get(cls.__module__), "__file__", None)


def _noting_setup(func, name, home):
    """Method ``func`` noting on its receiver each call made from outside ``home`` (the
    class's file): the calls that set a receiver up after it was built, the last few kept.
    A call that raised is left out (``cache["missing"]``): a test cannot make it as setup;
    if it changed the receiver anyway, the rebuilt one differs and is refused."""

    @functools.wraps(func)
    def noted(self, *args, **kwargs):
        result = func(self, *args, **kwargs)
        caller = sys._getframe(1)
        if caller.f_code.co_filename != home and not _called_by_itself(caller, self):
            entry = _BUILT.get(id(self))
            if entry is not None and entry[0]() is self:
                entry[1]["setup"].append((name, args, kwargs))
        return result

    return noted


def _called_by_itself(frame, receiver):
    """Whether ``frame`` runs a method of ``receiver`` (``super().__setitem__`` in a subclass
    in another file): a call inside one of its own, not a setup call."""
    code = frame.f_code
    return code.co_argcount > 0 and frame.f_locals.get(code.co_varnames[0]) is receiver


# Dunders that set a receiver up as its callers write it (``cache[k] = v``, ``del cache[k]``)
_SETUP_DUNDERS = ("__setitem__", "__delitem__")


def _watch_construction(cls, targets):
    """Have each instance of ``cls``, or of a subclass in the project, remember the call that
    built it, and the calls made on it from outside afterwards (how it was set up)."""
    installed = {id(vars(cls)[t]) for t in targets}
    made: dict[int, Any] = {}  # one wrapper per function: aliases (``an = a``) stay equal
    for kind in _project_classes(cls):
        _note_setup_calls(kind, installed, made)
        if kind is cls or "__init__" in vars(kind):
            _record_construction(kind)


def _project_classes(cls):
    """``cls`` and its subclasses defined in the project's own modules (no test modules: a
    new test cannot import from them)."""
    found, todo = [], [cls]
    while todo:
        kind = todo.pop()
        if kind in found:
            continue
        home = _module_file(kind) or ""
        if kind is cls or (_inside_project(home) and not _test_file(home)):
            found.append(kind)
            todo += kind.__subclasses__()
    return found


def _note_setup_calls(cls, installed, made):
    """Wrap ``cls``'s own public methods (and item assignment and deletion) to note setup."""
    home = _module_file(cls)
    for name, value in list(vars(cls).items()):
        public = not name.startswith("_") or name in _SETUP_DUNDERS
        if public and id(value) not in installed and isinstance(value, types.FunctionType):
            if id(value) not in made:
                made[id(value)] = _noting_setup(value, name, home)
            setattr(cls, name, made[id(value)])
            _UNWRAP.append((cls, name, value))


def _record_construction(cls):
    """Wrap ``cls.__init__`` so an instance whose own class is ``cls`` remembers the call."""
    own = cls.__dict__.get("__init__")
    inherited = next(k.__dict__["__init__"] for k in cls.__mro__[1:] if "__init__" in k.__dict__)

    def recording_init(self, *args, **kwargs):
        kind = type(self)
        if kind.__init__ is recording_init and id(self) not in _BUILT:  # not a subclass's own
            how: dict[str, Any] = {
                "constructor": (f"{kind.__module__}:{kind.__qualname__}", args, kwargs),
                "setup": collections.deque(maxlen=_SETUP_CALLS),
            }
            factory = _factory_call(sys._getframe(1))
            if factory is not None:
                how["factory"] = factory
            _remember(self, how)
        if own is not None:
            return own(self, *args, **kwargs)
        if inherited is object.__init__:
            return object.__init__(self)
        return inherited(self, *args, **kwargs)

    if own is not None:
        functools.update_wrapper(recording_init, own)
    cls.__init__ = recording_init
    _UNWRAP.append((cls, "__init__", own))


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


def _codes_of(code):
    """``code`` and the code objects nested in it (comprehensions, inner functions)."""
    found = {code}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _codes_of(const)
    return found


def _finish(recorder, slot, record, args, kwargs, lines=None):
    try:
        record["after"] = _b64(pickle.dumps((args, kwargs), protocol=4))
    except Exception:
        recorder.unpicklable += slot is not None
        return
    if slot is not None:
        recorder.store(slot, record)
    if lines:
        recorder.keep_if_new(record, lines)


def _resolve(module_name, qualname):
    """The object that holds the function, the attribute name, and the function itself."""
    module = importlib.import_module(module_name)
    holder = module
    parts = qualname.split(".")
    for part in parts[:-1]:
        holder = getattr(holder, part)
    name = parts[-1]
    if isinstance(holder, type) and name.startswith("__") and not name.endswith("__"):
        name = f"_{holder.__name__.lstrip('_')}{name}"  # a private method's mangled name
    func = vars(holder).get(name) if isinstance(holder, type) else getattr(holder, name)
    return module, holder, name, func


def _kind(holder, raw):
    """How the target is bound: "static", "class", "method" (in a class) or "plain"."""
    if isinstance(raw, staticmethod):
        return "static"
    if isinstance(raw, classmethod):
        return "class"
    return "method" if isinstance(holder, type) else "plain"


def _rebound(kind, wrapper):
    if kind == "static":
        return staticmethod(wrapper)
    if kind == "class":
        return classmethod(wrapper)
    return wrapper


def _install_capture(settings):
    methods: dict[type, set[str]] = {}  # classes with target methods -> those methods
    for target in settings["targets"]:
        key = f"{target['module']}:{target['qualname']}"
        try:
            module, holder, name, raw = _resolve(target["module"], target["qualname"])
        except Exception as exc:
            _ERRORS.append(f"cannot import {key}: {type(exc).__name__}: {exc}")
            continue
        kind = _kind(holder, raw)
        func = raw.__func__ if kind in ("static", "class") else raw
        if not callable(func) or not hasattr(func, "__code__"):
            _ERRORS.append(f"{key} is not a plain function")
            continue
        if not _inside_project(getattr(module, "__file__", "") or ""):
            _ERRORS.append(
                f"{target['module']} was imported from {module.__file__}, outside the checkout "
                "being tested (an installed copy shadows it)"
            )
            continue
        recorder = _Recorder(settings.get("limit", 50), _codes_of(func.__code__), kind)
        _RECORDERS[key] = recorder
        wrapper = _wrap(func, recorder, kind)
        if kind == "method":
            wrapper = _noting_setup(wrapper, name, _module_file(holder))
        rebound = _rebound(kind, wrapper)
        setattr(holder, name, rebound)
        if kind != "plain":  # an alias in the class (``an = a``) stays the same object
            for alias, value in list(vars(holder).items()):
                if value is raw and alias != name:
                    setattr(holder, alias, rebound)
                    _UNWRAP.append((holder, alias, raw))
        _UNWRAP.append((holder, name, raw))
        if kind == "method":
            methods.setdefault(holder, set()).add(name)
        if kind != "plain":
            continue
        for other in list(sys.modules.values()):  # rebind `from module import func` copies
            if other is None or other is holder:
                continue
            try:
                names = [k for k, v in vars(other).items() if v is func]
            except TypeError:
                continue
            for alias in names:
                setattr(other, alias, wrapper)
                _UNWRAP.append((other, alias, func))
    for cls, targets in methods.items():
        _watch_construction(cls, targets)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    if _CONFIG.get("capture"):
        _install_capture(_CONFIG["capture"])
    if _PROFILER is not None:
        _PROFILER.enable()
    try:
        yield
    finally:
        if _PROFILER is not None:
            _PROFILER.disable()
        for holder, name, func in reversed(_UNWRAP):
            if func is None:  # a wrapped __init__ the class did not define itself
                delattr(holder, name)
            else:
                setattr(holder, name, func)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _RUNNING[0] = item.nodeid
    try:
        yield
    finally:
        _RUNNING[0] = None


def pytest_collection_modifyitems(config, items):
    wanted = _CONFIG.get("select")
    if not wanted:
        return
    wanted = set(wanted)
    keep = [item for item in items if item.nodeid in wanted]
    dropped = [item for item in items if item.nodeid not in wanted]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_runtest_logreport(report):
    previous = _OUTCOMES.get(report.nodeid)
    if report.failed:
        _OUTCOMES[report.nodeid] = "failed"
    elif report.skipped and previous != "failed":
        _OUTCOMES[report.nodeid] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    elif report.when == "call" and report.passed and previous is None:
        _OUTCOMES[report.nodeid] = "passed"


def _module_of(filename):
    real = os.path.realpath(filename)
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.realpath(path) == real:
            return name, module
    return None, None


def _profiled_functions():
    stats = pstats.Stats(_PROFILER).stats  # type: ignore[attr-defined]
    keys = {}
    rows = []
    for func, (_cc, calls, own, cumulative, _callers) in stats.items():
        filename, line, funcname = func
        if not filename or filename.startswith("<") or not _inside_project(filename):
            continue
        module_name, module = _module_of(filename)
        if module is None:
            continue
        qualname = _qualname_of(module, funcname, line)
        if qualname is None:
            continue
        keys[func] = f"{module_name}:{qualname}"
        rows.append(
            {
                "file": _relative(filename),
                "module": module_name,
                "qualname": qualname,
                "line": line,
                "own_seconds": own,
                "cumulative_seconds": cumulative,
                "calls": calls,
                "_func": func,
            }
        )
    for row in rows:
        row["callers"] = sorted(_ancestors(stats, row.pop("_func"), keys))
    return rows


def _ancestors(stats, func, keys):
    """Keys of the project functions that call ``func``, directly or through anything else."""
    found = set()
    seen = {func}
    todo = [func]
    while todo:
        for caller in stats.get(todo.pop(), (0, 0, 0, 0, {}))[4]:
            if caller in seen:
                continue
            seen.add(caller)
            todo.append(caller)
            if caller in keys and caller != func:
                found.add(keys[caller])
    return found


def _qualname_of(module, funcname, line):
    """The qualified name of a module- or class-level function starting at ``line``."""
    stack = [module]
    seen = set()
    while stack:
        holder = stack.pop()
        for value in list(vars(holder).values()):
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and id(value) not in seen
            ):
                seen.add(id(value))
                stack.append(value)
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            code = getattr(value, "__code__", None)
            if code is not None and code.co_name == funcname and code.co_firstlineno == line:
                qualname = getattr(code, "co_qualname", value.__qualname__)
                return None if "<locals>" in qualname else qualname
    return None


def _serialise_captures():
    targets = {}
    for key, recorder in _RECORDERS.items():
        module, qualname = key.split(":", 1)
        targets[key] = {
            "module": module,
            "qualname": qualname,
            "root": _PROJECT,
            "kind": recorder.kind,
            "seen": recorder.seen,
            "unpicklable": recorder.unpicklable,
            "sampled": len(recorder.calls),
            "tests": None if None in recorder.tests else sorted(recorder.tests),
            "calls": recorder.kept(),
        }
    return targets


def pytest_sessionfinish(session, exitstatus):
    _REPORT["exitstatus"] = int(exitstatus)
    _REPORT["import_roots"] = sorted(
        {_relative(p) for p in sys.path if p and os.path.isdir(p) and _inside_project(p)}
    )
    if _PROFILER is not None:
        _REPORT["profile"] = _profiled_functions()
    if _CONFIG.get("capture"):
        _REPORT["captures"] = _serialise_captures()
    with open(_CONFIG["report"], "w") as handle:
        json.dump(_REPORT, handle)
