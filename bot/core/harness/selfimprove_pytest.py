"""pytest plugin the bot loads into the target's own test run (``-p selfimprove_pytest``).

It runs inside the target's interpreter, in a worktree, never in the bot's process, and
uses only the standard library and pytest's hooks. Its settings come from the JSON file
named by ``SELFIMPROVE_HARNESS``; it writes one JSON report to the path given there:

* always: the outcome of every test and the ``sys.path`` entries inside the project;
* ``profile``: cProfile over the test loop, the project's own functions with their times;
* ``capture``: calls to the target functions, pickled (arguments before and after the
  call, return value or exception; of a generator, the items its caller took, see the
  recorder), a seeded reservoir sample capped per function, and
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

The recorder is ``selfimprove_recorder.py`` and the watch on how receivers are built is
``selfimprove_builds.py``, beside this file (``PYTHONPATH`` holds the harness folder).
"""

from __future__ import annotations

import cProfile
import importlib
import json
import os
import pstats
import sys
from typing import Any

import pytest
from selfimprove_builds import module_file, noting_setup, watch_construction
from selfimprove_project import PROJECT, RUNNING, UNWRAP, inside_project, relative
from selfimprove_recorder import Recorder, codes_of, wrap

_CONFIG = json.loads(open(os.environ["SELFIMPROVE_HARNESS"]).read())  # noqa: SIM115
_OUTCOMES: dict[str, str] = {}
_ERRORS: list[str] = []
_REPORT: dict[str, Any] = {"outcomes": _OUTCOMES, "errors": _ERRORS}
_PROFILER = cProfile.Profile() if _CONFIG.get("profile") else None
_RECORDERS: dict[str, Recorder] = {}


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
        if not inside_project(getattr(module, "__file__", "") or ""):
            _ERRORS.append(
                f"{target['module']} was imported from {module.__file__}, outside the checkout "
                "being tested (an installed copy shadows it)"
            )
            continue
        recorder = Recorder(settings.get("limit", 50), codes_of(func.__code__), kind)
        _RECORDERS[key] = recorder
        wrapper = wrap(func, recorder, kind)
        if kind == "method":
            wrapper = noting_setup(wrapper, name, module_file(holder))
        rebound = _rebound(kind, wrapper)
        setattr(holder, name, rebound)
        if kind != "plain":  # an alias in the class (``an = a``) stays the same object
            for alias, value in list(vars(holder).items()):
                if value is raw and alias != name:
                    setattr(holder, alias, rebound)
                    UNWRAP.append((holder, alias, raw))
        UNWRAP.append((holder, name, raw))
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
                UNWRAP.append((other, alias, func))
    for cls, targets in methods.items():
        watch_construction(cls, targets)


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
        for holder, name, func in reversed(UNWRAP):
            if func is None:  # a wrapped __init__ the class did not define itself
                delattr(holder, name)
            else:
                setattr(holder, name, func)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    RUNNING[0] = item.nodeid
    try:
        yield
    finally:
        RUNNING[0] = None


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
        if not filename or filename.startswith("<") or not inside_project(filename):
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
                "file": relative(filename),
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
            "root": PROJECT,
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
        {relative(p) for p in sys.path if p and os.path.isdir(p) and inside_project(p)}
    )
    if _PROFILER is not None:
        _REPORT["profile"] = _profiled_functions()
    if _CONFIG.get("capture"):
        _REPORT["captures"] = _serialise_captures()
    with open(_CONFIG["report"], "w") as handle:
        json.dump(_REPORT, handle)
