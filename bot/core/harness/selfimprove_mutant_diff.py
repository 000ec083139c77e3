"""Call one target on the captured and derived inputs and write what each call did.

Run as ``<interpreter> selfimprove_mutant_diff.py <settings.json>`` in a checkout (the base,
or a mutant of it), never in the bot's process. Settings: ``capture`` (the captures JSON),
``target`` (``module:qualname``), ``out`` (where the answer goes), ``call_timeout``
(seconds per call), ``max_inputs`` and ``max_source`` (the longest arguments, written as
source, worth a test); ``inputs_file`` (the base's inputs, as it answered them) makes a
mutant's checkout call exactly those. After three calls that time out it stops. Standard
library only.

Only inputs whose arguments survive ``repr`` -> ``ast.literal_eval`` are used, because only
those can be written into a regression test as source. Each is called on a fresh copy
(made from its source text); the inputs and their order depend on the captures alone, so
the base's answer and a mutant's answer line up index by index and the bot compares them
without ever unpickling anything. Derived inputs are simple neighbours of captured ones:
an integer or float argument moved by one, to 0 or negated, an empty string or container
in place of one, a string cut to its first character, a blank one, or one written twice on
two lines, a short tuple with two elements swapped or one moved; then a number argument set
to each number written in the function (and, for integers, one either side). A derived
value the parameter's annotation forbids is left out: a test calling with it would fail the
project's type checker.

A method is called on a receiver rebuilt for every call from how the capture saw it built
(``selfimprove_receivers.py``): ``engine().plural_noun("cat")``, or after the calls that set
it up (``receiver = engine()``, ``receiver.classical(all=True)``, then the call). Calls
whose receiver cannot be rebuilt are counted under ``refused`` with the reason. Static and
class methods are called through their class: ``Table.parse("x")``.

With ``base_root`` (the base checkout) the script runs in *shrink* mode in a mutant's
checkout: the base is imported beside it (``selfimprove_worlds.OtherCopy``) and each
captured input too long for a test is tried on both; where they disagree it is shrunk
(``selfimprove_shrink.py``) to a small input on which they still do. ``base`` and
``mutant`` then list the two outcomes of each shrunk input; ``shrink_seconds`` and
``max_tries`` bound the search.

The answer: ``{"inputs": [...], "errors": [...], "refused": {...}}``; each input has
``args`` (source of each positional argument), ``kwargs``, ``callee`` (what a test calls),
``setup`` (lines a test runs first: the receiver built and set up), ``imports`` (``[module,
name]`` pairs it needs), ``derived`` and ``outcome`` ("return",
"raise" or "timeout") with ``result`` (its repr), ``result_literal`` (whether that repr
reads back as the same value) and ``result_type`` (``module:qualname``: a test pins a result
that is not a literal by its type), or ``error_type``/``error_module``/``error_message``;
``after`` is the repr of the arguments after the call (in-place changes count as
behaviour). A call that returns a generator has its items taken (at most ``_YIELDS``)
and the generator closed: ``result`` is the repr of their list, ``yields`` how many were
taken and ``exhausted`` whether it ended (or raised) there, not just a prefix.
"""

from __future__ import annotations

import ast
import base64
import copy
import importlib
import inspect
import json
import math
import os
import signal
import sys
import time
import types
import typing
from collections import Counter
from collections.abc import Callable
from typing import Any

import selfimprove_replay as _replay  # beside this script, which is run by path
import selfimprove_shrink as _shrink
from selfimprove_receivers import Recipe, recipe
from selfimprove_worlds import NATIVE, OTHER, OtherCopy

_HERE = os.path.dirname(os.path.abspath(__file__))
_MAX_TIMEOUTS = 3
_UNLIMITED = 10**7  # characters: a captured input shrink mode may start from
_SWAPPED = 4  # tuples up to this long get swapped and moved variants
_CODE_NUMBERS = 8  # numbers from the function's own code tried as arguments
_NUMBER_BASES = 4  # captured inputs those numbers are put into
_YIELDS = 30  # items of a generator a test pins (of a longer one, a prefix this long)


class CallTimeout(BaseException):
    """A call ran past its time (a BaseException, so ``except Exception`` cannot eat it)."""


def _literal_source(value: Any) -> str | None:
    """``repr(value)`` when it reads back as an equal value of the same shape, else None."""
    try:
        text = repr(value)
        again = ast.literal_eval(text)
    except Exception:
        return None
    try:
        same = repr(again) == text and again == value
    except Exception:
        return None
    return text if same else None


def _tuple_neighbours(value: tuple[Any, ...]) -> list[Any]:
    """Two elements swapped, and each element moved to a neighbour of its own."""
    found: list[Any] = []
    for i in range(len(value)):
        for j in range(i + 1, len(value)):
            if value[i] != value[j]:
                swapped = list(value)
                swapped[i], swapped[j] = value[j], value[i]
                found.append(tuple(swapped))
    for index, item in enumerate(value):
        if isinstance(item, (int, float)):
            found += [(*value[:index], other, *value[index + 1 :]) for other in _neighbours(item)]
    return found


def _neighbours(value: Any) -> list[Any]:
    """Simple inputs next to ``value``: the boundary cases a suite tends to miss."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value - 1, value + 1, 0]
    if isinstance(value, float):
        moved = [0.0, -value, value + 1.0, value - 1.0] if math.isfinite(value) else [0.0]
        return [m for m in moved if m != value or math.copysign(1, m) != math.copysign(1, value)]
    if isinstance(value, str) and value:
        # Blank and multi-line text: where a pattern without re.DOTALL or a strip() finds
        # nothing, and a function's "no word here" branch runs.
        return ["", value[:1], " ", f"{value}\n{value}"]
    if type(value) is tuple and 1 < len(value) <= _SWAPPED:
        return [(), *_tuple_neighbours(value)]
    if isinstance(value, (list, tuple, dict)) and value:
        return [type(value)()]
    return []


def _derived(
    args: list[str],
    kwargs: dict[str, str],
    near: Callable[[Any], list[Any]] = _neighbours,
    allowed: Callable[[int | str, Any], bool] = lambda where, value: True,
) -> list[tuple[list[str], dict[str, str]]]:
    """Each positional and keyword argument replaced, one at a time, by one ``near`` it that
    is ``allowed`` there (by position or name)."""
    found: list[tuple[list[str], dict[str, str]]] = []
    for index, text in enumerate(args):
        for other in near(ast.literal_eval(text)):
            source = _literal_source(other)
            if source is not None and allowed(index, other):
                found.append(([*args[:index], source, *args[index + 1 :]], kwargs))
    for name, text in kwargs.items():
        for other in near(ast.literal_eval(text)):
            source = _literal_source(other)
            if source is not None and allowed(name, other):
                found.append((args, {**kwargs, name: source}))
    return found


def _annotated(func: Any, receiver: bool) -> Callable[[int | str, Any], bool]:
    """Whether a value fits the annotation of the parameter at a position or name.

    A derived input the function's own annotations forbid (``backend=""`` where only four
    names are allowed) makes a test the project's type checker rejects. Unknown or
    unreadable annotations allow everything.
    """
    try:
        hints = typing.get_type_hints(getattr(func, "__func__", func))
        params = list(inspect.signature(func).parameters.values())
    except Exception:
        return lambda where, value: True
    if receiver and params:
        params = params[1:]
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def allowed(where: int | str, value: Any) -> bool:
        if isinstance(where, int):
            if where >= len(positional):
                return True
            where = positional[where]
        return where not in hints or _fits(value, hints[where])

    return allowed


def _fits(value: Any, annotation: Any) -> bool:
    """A simple, lenient check of ``value`` against a type annotation (True when unsure)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return any(type(value) is type(a) and value == a for a in typing.get_args(annotation))
    if origin is typing.Union or origin is getattr(types, "UnionType", typing.Union):
        return any(_fits(value, a) for a in typing.get_args(annotation))
    if annotation is None or annotation is type(None):
        return value is None
    if annotation is float or annotation is complex:
        return isinstance(value, (int, float)) or (annotation is complex and type(value) is complex)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    if isinstance(origin, type):
        return isinstance(value, origin)
    return True


def _code_numbers(func: Any) -> list[int | float]:
    """The numbers written in ``func``'s body (and in functions nested in it), 0 and 1 aside.

    A comparison with a constant (``n <= 1_000_000``) is where a flipped ``<=`` hides; an
    argument at the constant, or one either side of it, is the input that shows it.
    """
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    found: list[int | float] = []
    todo = [code] if code is not None else []
    while todo and len(found) < _CODE_NUMBERS:
        for const in todo.pop().co_consts:
            if hasattr(const, "co_consts"):
                todo.append(const)
            elif type(const) in (int, float) and const not in (0, 1, -1) and const not in found:
                found.append(const)
    return found[:_CODE_NUMBERS]


def _at_numbers(numbers: list[int | float]) -> Callable[[Any], list[Any]]:
    """For a number argument: each of ``numbers`` (of its type) and, for integers, either
    side of it."""

    def near(value: Any) -> list[Any]:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return []
        if isinstance(value, int):
            whole = [n for n in numbers if isinstance(n, int)]
            return [m for n in whole for m in (n, n - 1, n + 1) if m != value]
        return [float(n) for n in numbers if float(n) != value]

    return near


class Target:
    """The function under test, how a test calls it, and how to call it in either world."""

    def __init__(self, key: str, replayer: _replay.Replayer) -> None:
        self.home = NATIVE  # the world whose code decides how a receiver is rebuilt (the base)
        self.key = key
        self.module, self.qualname = key.split(":", 1)
        self.replayer = replayer
        self.kind, self.name = _binding(self.module, self.qualname)  # name: as stored
        self.refused: Counter[str] = Counter()

    def resolve(self, call: str, world: str = NATIVE) -> Callable[..., Any]:
        found: Callable[..., Any] = self.replayer.function(call, world)
        return found

    def entry(self, record: dict[str, Any], longest: int) -> dict[str, Any] | None:
        """A captured call as an input (arguments as source), or None when it cannot be one.

        A test with a 20,000-item literal in it helps nobody, so long arguments are left
        out (shrink mode starts from them instead). A method's receiver comes first and is
        rebuilt, not written; one that cannot be is counted in ``refused``.
        """
        try:
            args, kwargs = self.replayer.loads(base64.b64decode(record["args"]), self.home)
        except Exception:
            return None
        found: dict[str, Any] = {"derived": False, "receiver": None}
        if self.kind == "method":
            if not args:
                return None
            built, why = recipe(
                record, args[0], _literal_source, lambda call: self.resolve(call, self.home)
            )
            if built is None:
                self.refused[why] += 1
                return None
            found["receiver"] = built.to_json()
            args = args[1:]
        sources = [_literal_source(a) for a in args]
        named = {k: _literal_source(v) for k, v in kwargs.items()}
        written = [*sources, *named.values()]
        if any(s is None for s in written) or sum(len(s or "") for s in written) > longest:
            return None
        found["args"] = [s for s in sources if s is not None]
        found["kwargs"] = {k: v for k, v in named.items() if v is not None}
        return self.spelled(found)

    def spelled(self, entry: dict[str, Any]) -> dict[str, Any]:
        """``entry`` with the text a test calls (``callee``) and the names it imports."""
        receiver = entry.get("receiver")
        setup: list[str] = []
        if receiver is not None:
            built = Recipe.from_json(receiver)
            (callee, setup), imports = built.spelled(self.name), built.imports
        else:
            holder = self.qualname.rpartition(".")[0]
            callee = f"{holder}.{self.name}" if holder else self.qualname
            imports = [[self.module, self.qualname.split(".", 1)[0]]]
        return {**entry, "callee": callee, "setup": setup, "imports": imports}

    def bound(self, entry: dict[str, Any], world: str = NATIVE) -> Callable[..., Any]:
        """What to call for ``entry`` in ``world``: the function, or a fresh receiver's method."""
        receiver = entry.get("receiver")
        if receiver is None:
            return self.resolve(self.key, world)
        built = Recipe.from_json(receiver).build(lambda call: self.resolve(call, world))
        return getattr(built, self.name)  # type: ignore[no-any-return]


def _binding(module_name: str, qualname: str) -> tuple[str, str]:
    """How the target is bound ("method" for a plain function in a class, "static", "class"
    or "plain"), and its name as its holder stores it (a private method's mangled)."""
    holder: Any = importlib.import_module(module_name)
    parts = qualname.split(".")
    for part in parts[:-1]:
        holder = getattr(holder, part)
    name = _replay.mangled(holder, parts[-1])
    if not isinstance(holder, type):
        return "plain", name
    raw = vars(holder).get(name)
    if isinstance(raw, staticmethod):
        return "static", name
    return ("class" if isinstance(raw, classmethod) else "method"), name


def inputs(target: Target, records: list[dict[str, Any]], limit: int, longest: int) -> list[Any]:
    """Captured inputs first, then derived ones; no duplicates; at most ``limit``.

    ``longest`` caps the length of an input's arguments written as source.
    """
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    captured = [e for e in (target.entry(r, longest) for r in records) if e is not None]
    candidates = list(captured)
    func = target.resolve(target.key)
    allowed = _annotated(func, receiver=target.kind == "method")
    at_numbers = _at_numbers(_code_numbers(func))
    # The function's own numbers on a few inputs first: the simple neighbours of every
    # input would otherwise fill the limit before them.
    for near, bases in ((at_numbers, captured[:_NUMBER_BASES]), (_neighbours, captured)):
        for entry in bases:
            for args, kwargs in _derived(entry["args"], entry["kwargs"], near, allowed):
                candidates.append({**entry, "args": args, "kwargs": kwargs, "derived": True})
    for entry in candidates:
        key = json.dumps([entry["receiver"], entry["args"], entry["kwargs"]], sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        found.append(entry)
        if len(found) >= limit:
            break
    return found


def _on_alarm(signum: int, frame: Any) -> None:
    raise CallTimeout()


def _outcome(
    call: Callable[[], Callable[..., Any]], args: list[Any], kwargs: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """What ``call()(*args, **kwargs)`` did; ``call`` builds what is called (a receiver, say).

    A generator's outcome is what taking its items did: their list, or the error raised on
    the way, marked with ``yields`` and ``exhausted`` (a test then takes the same:
    ``list(f(x))`` or ``list(itertools.islice(f(x), k))``)."""
    outcome: dict[str, Any] = {}
    marks: dict[str, Any] = {}
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        result = call()(*args, **kwargs)
        if isinstance(result, types.GeneratorType):  # what a test can take: its items
            result = _replay.bounded(result, _YIELDS, marks)
    except CallTimeout:
        return {"outcome": "timeout"}
    except Exception as exc:
        kind = type(exc)
        outcome = {
            "outcome": "raise",
            "error_type": kind.__qualname__,
            "error_module": kind.__module__,
            "error_message": str(exc),
            **marks,
        }
    else:
        outcome = {"outcome": "return", "result": repr(result), **marks}
        outcome["result_literal"] = _literal_source(result) is not None
        outcome["result_type"] = f"{type(result).__module__}:{type(result).__qualname__}"
        if marks and not outcome["result_literal"]:
            outcome["result_type"] = ""  # a list of its items pins nothing by type
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    outcome["after"] = repr((args, kwargs))
    return outcome


def _call(target: Target, entry: dict[str, Any], timeout: float) -> dict[str, Any]:
    args = [ast.literal_eval(a) for a in entry["args"]]
    kwargs = {k: ast.literal_eval(v) for k, v in entry["kwargs"].items()}
    return _outcome(lambda: target.bound(entry), args, kwargs, timeout)


def _behaviour(outcome: dict[str, Any]) -> tuple[Any, ...]:
    """What a test can tell apart: a result that is not a literal only by its type (its
    repr may hold an address that differs on every run)."""
    fields = (
        "outcome",
        "result",
        "error_module",
        "error_type",
        "error_message",
        "exhausted",
        "after",
    )
    seen = [outcome.get(f) for f in fields]
    if outcome.get("outcome") == "return" and not outcome.get("result_literal"):
        seen[1] = f"an instance of {outcome.get('result_type')}"
    return tuple(seen)


def _pinnable(outcome: dict[str, Any]) -> bool:
    if outcome["outcome"] == "return":
        return bool(outcome["result_literal"]) or _named(str(outcome.get("result_type", "")))
    return bool(outcome["outcome"] == "raise" and outcome["error_module"] == "builtins")


def _named(result_type: str) -> bool:
    """Whether a test can name this type: not one defined inside a function."""
    return bool(result_type) and "<locals>" not in result_type


def observe(settings: dict[str, Any], target: Target, records: list[Any]) -> dict[str, Any]:
    """Call the target on every usable input, in order."""
    answer: dict[str, Any] = {"inputs": [], "errors": []}
    limit, longest = int(settings.get("max_inputs", 200)), int(settings.get("max_source", 1000))
    timeouts = 0
    given = settings.get("inputs_file")
    if given:  # the base's inputs, to call a mutant on: receivers are rebuilt as the base was
        with open(given, encoding="utf-8") as handle:
            chosen = list(json.load(handle))
    else:
        chosen = inputs(target, records, limit, longest)
    for entry in chosen:
        if timeouts >= _MAX_TIMEOUTS:  # a mutant that hangs everywhere: enough seen
            break
        try:
            entry.update(_call(target, entry, float(settings.get("call_timeout", 2.0))))
        except CallTimeout:
            entry["outcome"] = "timeout"
        except BaseException as exc:  # the call tried to exit, say: not an answer
            entry["outcome"] = "aborted"
            answer["errors"].append(f"{type(exc).__name__}: {exc}")
        timeouts += entry["outcome"] == "timeout"
        answer["inputs"].append(entry)
    return answer


def shrink(settings: dict[str, Any], target: Target, records: list[Any]) -> dict[str, Any]:
    """Shrink each captured input too long for a test on which base and mutant disagree."""
    answer: dict[str, Any] = {"base": [], "mutant": [], "errors": [], "shrunk": []}
    here = os.path.realpath(os.getcwd())
    modules = sorted({target.module, *_recipe_modules(records)})
    target.replayer.other = OtherCopy(here, os.path.realpath(settings["base_root"]), modules)
    target.home = OTHER
    timeout = float(settings.get("call_timeout", 2.0))
    longest = int(settings.get("max_source", 1000))
    deadline = time.monotonic() + float(settings.get("shrink_seconds", 20.0))
    max_tries = int(settings.get("max_tries", 2000))
    for record in records:
        if time.monotonic() >= deadline:
            break
        entry = target.entry(record, _UNLIMITED)
        written = [*entry["args"], *entry["kwargs"].values()] if entry else []
        if entry is None or sum(map(len, written)) <= longest:
            continue  # not writable at all, or short enough to have been tried as it is
        values = (
            [ast.literal_eval(a) for a in entry["args"]],
            {k: ast.literal_eval(v) for k, v in entry["kwargs"].items()},
        )

        def both(call: _shrink.Call, entry: dict[str, Any] = entry) -> tuple[Any, Any]:
            args, kwargs = call
            twin = copy.deepcopy(call)
            base = _outcome(lambda: target.bound(entry, OTHER), args, kwargs, timeout)
            mutant = _outcome(lambda: target.bound(entry, NATIVE), twin[0], twin[1], timeout)
            return base, mutant

        def disagree(call: _shrink.Call, kind: str) -> bool:
            base, mutant = both(call)
            finished = "timeout" not in (base["outcome"], mutant["outcome"])
            same = _behaviour(base) == _behaviour(mutant)
            return finished and not same and _pinnable(base) and base["outcome"] == kind

        first, _ = both(copy.deepcopy(values))
        if not disagree(copy.deepcopy(values), first["outcome"]):
            continue
        found, tries = _shrink.shrink(
            values,
            lambda call, kind=first["outcome"]: disagree(call, kind),
            max(0.0, deadline - time.monotonic()),
            max_tries,
        )
        base, mutant = both(copy.deepcopy(found))
        shrunk = {**entry, "args": [repr(a) for a in found[0]], "derived": True}
        shrunk["kwargs"] = {k: repr(v) for k, v in found[1].items()}
        answer["base"].append({**shrunk, **base})
        answer["mutant"].append({**shrunk, **mutant})
        answer["shrunk"].append({"from": len(repr(values)), "to": len(repr(found)), "tries": tries})
        break  # one small input that tells them apart is all a test needs
    return answer


def _recipe_modules(records: list[dict[str, Any]]) -> set[str]:
    """Modules of the constructors and factories that built receivers (loaded in both worlds)."""
    found: set[str] = set()
    for record in records:
        how = record.get("receiver")
        for way in (how or {}).values() if isinstance(how, dict) else ():
            if isinstance(way, dict) and ":" in str(way.get("call", "")):
                found.add(str(way["call"]).split(":", 1)[0])
    return found


def main(argv: list[str]) -> int:
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    with open(argv[1], encoding="utf-8") as handle:
        settings = json.load(handle)
    with open(settings["capture"], encoding="utf-8") as handle:
        captures = json.load(handle)
    key = settings["target"]
    records = list(captures.get(key, {}).get("calls", []))
    answer: dict[str, Any] = {"inputs": [], "errors": []}
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        target = Target(key, _replay.Replayer({}))
        target.resolve(key)
    except Exception as exc:
        answer["errors"].append(f"cannot load {key}: {type(exc).__name__}: {exc}")
    else:
        try:
            answer = (shrink if settings.get("base_root") else observe)(settings, target, records)
        except Exception as exc:
            answer["errors"].append(f"{type(exc).__name__}: {exc}")
        answer["refused"] = dict(target.refused)
    with open(settings["out"], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
