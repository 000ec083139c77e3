"""How the receivers of target methods were built, noted while the suite runs.

Part of the capture plugin (``selfimprove_pytest.py``; target's interpreter, standard
library only). Each instance of a class with a target method remembers the constructor call
that built it, the module-level factory that made that call, and the last calls made on it
from outside its module (how a test set it up), so a method's recorded call can say how to
build its receiver again (``selfimprove_receivers.py`` rebuilds it as source).
"""

from __future__ import annotations

import collections
import functools
import inspect
import os
import pickle
import sys
import types
import weakref
from typing import Any

from selfimprove_project import UNWRAP, b64, inside_project

# id(instance) -> (ref, {"constructor"/"factory": (module:qualname, args, kwargs)})
_BUILT: dict[int, tuple[Any, dict[str, Any]]] = {}
_MAX_STRONG = 10000  # instances that cannot be weakly referenced are kept, up to this many
_MAX_RECIPE = 100_000  # bytes of pickled constructor arguments worth keeping
_SETUP_CALLS = 32  # calls made on a receiver after it was built, the last ones kept


def how_built(receiver):
    """How ``receiver`` was built, as recorded when its constructor ran, or why not known."""
    entry = _BUILT.get(id(receiver))
    if entry is not None and entry[0]() is receiver:  # pickled now: most are never asked for
        how = {way: _pickled_call(*call) for way, call in entry[1].items() if way != "setup"}
        how["setup"] = _pickled_setup(list(entry[1]["setup"]))
        return how
    kind = type(receiver)
    if test_file(module_file(kind) or ""):
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
    return {"call": callee, "args": b64(blob)}


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
    return {"calls": b64(pickle.dumps(kept, protocol=4))}


def _factory_call(frame):
    """The module-level project function running in ``frame``: (key, args, kwargs), or None.

    A test's own helpers (test modules, conftest) do not count: a new test cannot import them.
    """
    code = frame.f_code
    module = frame.f_globals.get("__name__", "")
    if (
        not inside_project(code.co_filename)
        or test_file(code.co_filename)
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


def test_file(path):
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


def module_file(cls):
    return getattr(sys.modules.get(cls.__module__), "__file__", None)


def noting_setup(func, name, home):
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


def watch_construction(cls, targets):
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
        home = module_file(kind) or ""
        if kind is cls or (inside_project(home) and not test_file(home)):
            found.append(kind)
            todo += kind.__subclasses__()
    return found


def _note_setup_calls(cls, installed, made):
    """Wrap ``cls``'s own public methods (and item assignment and deletion) to note setup."""
    home = module_file(cls)
    for name, value in list(vars(cls).items()):
        public = not name.startswith("_") or name in _SETUP_DUNDERS
        if public and id(value) not in installed and isinstance(value, types.FunctionType):
            if id(value) not in made:
                made[id(value)] = noting_setup(value, name, home)
            setattr(cls, name, made[id(value)])
            UNWRAP.append((cls, name, value))


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
    UNWRAP.append((cls, "__init__", own))
