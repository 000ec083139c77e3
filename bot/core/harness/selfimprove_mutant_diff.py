"""Call one target on the captured and derived inputs and write what each call did.

Run as ``<interpreter> selfimprove_mutant_diff.py <settings.json>`` in a checkout (the base,
or a mutant of it), never in the bot's process. Settings: ``capture`` (the captures JSON),
``target`` (``module:qualname``), ``output`` (where the answer goes), ``call_timeout``
(seconds per call), ``max_inputs`` and ``max_source`` (the longest arguments, written as
source, worth a test). After three calls that time out it stops. Standard library only.

Only inputs whose arguments survive ``repr`` -> ``ast.literal_eval`` are used, because only
those can be written into a regression test as source. Each is called on a fresh copy
(made from its source text); the inputs and their order depend on the captures alone, so
the base's answer and a mutant's answer line up index by index and the bot compares them
without ever unpickling anything. Derived inputs are simple neighbours of captured ones:
an integer argument plus or minus one, an empty string or container in place of one.

The answer: ``{"inputs": [...], "errors": [...]}``; each input has ``args`` (source of each
positional argument), ``kwargs``, ``derived`` and ``outcome`` ("return", "raise" or
"timeout") with ``result`` (its repr) and ``result_literal`` (whether that repr reads back
as the same value), or ``error_type``/``error_module``/``error_message``; ``after`` is the
repr of the arguments after the call (in-place changes count as behaviour).
"""

from __future__ import annotations

import ast
import base64
import importlib
import json
import os
import pickle
import signal
import sys
from typing import Any

_MAX_TIMEOUTS = 3


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


def _neighbours(value: Any) -> list[Any]:
    """Simple inputs next to ``value``: the boundary cases a suite tends to miss."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value - 1, value + 1, 0]
    if isinstance(value, str) and value:
        return ["", value[:1]]
    if isinstance(value, (list, tuple, dict)) and value:
        return [type(value)()]
    return []


def _derived(args: list[str], kwargs: dict[str, str]) -> list[tuple[list[str], dict[str, str]]]:
    """Each positional and keyword argument replaced, one at a time, by a neighbour."""
    found: list[tuple[list[str], dict[str, str]]] = []
    for index, text in enumerate(args):
        for other in _neighbours(ast.literal_eval(text)):
            source = _literal_source(other)
            if source is not None:
                found.append(([*args[:index], source, *args[index + 1 :]], kwargs))
    for name, text in kwargs.items():
        for other in _neighbours(ast.literal_eval(text)):
            source = _literal_source(other)
            if source is not None:
                found.append((args, {**kwargs, name: source}))
    return found


def _captured(record: dict[str, Any], limit: int) -> tuple[list[str], dict[str, str]] | None:
    """A captured call's arguments as source, or None when any cannot be written (or is long).

    A test with a 20,000-item literal in it helps nobody, so long arguments are left out.
    """
    try:
        args, kwargs = pickle.loads(base64.b64decode(record["args"]))
    except Exception:
        return None
    sources = [_literal_source(a) for a in args]
    named = {k: _literal_source(v) for k, v in kwargs.items()}
    written = [*sources, *named.values()]
    if any(s is None for s in written) or sum(len(s or "") for s in written) > limit:
        return None
    return [s for s in sources if s is not None], {k: v for k, v in named.items() if v}


def inputs(records: list[dict[str, Any]], limit: int, longest: int) -> list[dict[str, Any]]:
    """Captured inputs first, then derived ones; no duplicates; at most ``limit``.

    ``longest`` caps the length of an input's arguments written as source.
    """
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    captured = [c for c in (_captured(r, longest) for r in records) if c is not None]
    candidates = [(c, False) for c in captured]
    candidates += [(d, True) for c in captured for d in _derived(*c)]
    for (args, kwargs), derived in candidates:
        key = json.dumps([args, kwargs])
        if key in seen:
            continue
        seen.add(key)
        found.append({"args": args, "kwargs": kwargs, "derived": derived})
        if len(found) >= limit:
            break
    return found


def _on_alarm(signum: int, frame: Any) -> None:
    raise CallTimeout()


def _call(func: Any, entry: dict[str, Any], timeout: float) -> dict[str, Any]:
    args = [ast.literal_eval(a) for a in entry["args"]]
    kwargs = {k: ast.literal_eval(v) for k, v in entry["kwargs"].items()}
    outcome: dict[str, Any] = {}
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        result = func(*args, **kwargs)
    except CallTimeout:
        return {"outcome": "timeout"}
    except Exception as exc:
        kind = type(exc)
        outcome = {
            "outcome": "raise",
            "error_type": kind.__qualname__,
            "error_module": kind.__module__,
            "error_message": str(exc),
        }
    else:
        outcome = {"outcome": "return", "result": repr(result)}
        outcome["result_literal"] = _literal_source(result) is not None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    outcome["after"] = repr((args, kwargs))
    return outcome


def _function(key: str) -> Any:
    module_name, qualname = key.split(":", 1)
    holder: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        holder = getattr(holder, part)
    return holder


def main(argv: list[str]) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    with open(argv[1], encoding="utf-8") as handle:
        settings = json.load(handle)
    with open(settings["capture"], encoding="utf-8") as handle:
        captures = json.load(handle)
    key = settings["target"]
    records = list(captures.get(key, {}).get("calls", []))
    answer: dict[str, Any] = {"inputs": [], "errors": []}
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        func = _function(key)
    except Exception as exc:
        answer["errors"].append(f"cannot load {key}: {type(exc).__name__}: {exc}")
        func = None
    if func is not None:
        limit, longest = int(settings.get("max_inputs", 200)), int(settings.get("max_source", 1000))
        timeouts = 0
        for entry in inputs(records, limit, longest):
            if timeouts >= _MAX_TIMEOUTS:  # a mutant that hangs everywhere: enough seen
                break
            try:
                entry.update(_call(func, entry, float(settings.get("call_timeout", 2.0))))
            except CallTimeout:
                entry["outcome"] = "timeout"
            except BaseException as exc:  # the call tried to exit, say: not an answer
                entry["outcome"] = "aborted"
                answer["errors"].append(f"{type(exc).__name__}: {exc}")
            timeouts += entry["outcome"] == "timeout"
            answer["inputs"].append(entry)
    with open(settings["output"], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
