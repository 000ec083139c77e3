"""Where a mutant and the base disagree: the bot's side of ``selfimprove_mutant_diff.py``.

The harness runs in the target's interpreter, once in the base checkout and once in a
mutant's, and calls the target on the same inputs (captured and derived); this module
compares the two answers line by line. The bot reads only JSON with ``repr`` texts, and
evaluates nothing but ``ast.literal_eval`` of them.
"""

from __future__ import annotations

import ast
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core import sandbox
from bot.core.baseline import Baseline
from bot.core.candidate import Target
from bot.core.harness import HARNESS_DIR
from bot.core.request import Request
from bot.core.testrun import import_path_env

SCRIPT = HARNESS_DIR / "selfimprove_mutant_diff.py"
CALL_TIMEOUT = 2.0
MAX_INPUTS = 200
MAX_SOURCE = 1000  # characters of arguments written as source, per input
MAX_PINNED = 400  # characters of arguments and result a test may spell out
_UNFINISHED = ("timeout", "aborted")


@dataclass(frozen=True)
class Outcome:
    """What one call did: returned (``result`` is its repr), raised, or never finished."""

    args: tuple[str, ...]
    kwargs: tuple[tuple[str, str], ...]
    derived: bool
    kind: str
    result: str = ""
    result_literal: bool = False
    error_type: str = ""
    error_module: str = ""
    error_message: str = ""
    after: str = ""

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Outcome:
        return cls(
            args=tuple(str(a) for a in entry.get("args", ())),
            kwargs=tuple((str(k), str(v)) for k, v in dict(entry.get("kwargs", {})).items()),
            derived=bool(entry.get("derived")),
            kind=str(entry.get("outcome", "aborted")),
            result=str(entry.get("result", "")),
            result_literal=bool(entry.get("result_literal")),
            error_type=str(entry.get("error_type", "")),
            error_module=str(entry.get("error_module", "")),
            error_message=str(entry.get("error_message", "")),
            after=str(entry.get("after", "")),
        )

    @property
    def finished(self) -> bool:
        return self.kind not in _UNFINISHED

    @property
    def behaviour(self) -> tuple[str, ...]:
        """Everything a caller can observe, as comparable text."""
        return (
            self.kind,
            self.result,
            self.error_module,
            self.error_type,
            self.error_message,
            self.after,
        )

    @property
    def source_size(self) -> int:
        """How much a test pinning this outcome must spell out: arguments and result."""
        kwargs = sum(len(k) + len(v) for k, v in self.kwargs)
        return sum(map(len, self.args)) + kwargs + len(self.result) + len(self.error_message)

    @property
    def after_literal(self) -> bool:
        """The arguments after the call can be written as source (to pin in-place changes)."""
        try:
            return repr(ast.literal_eval(self.after)) == self.after
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return False

    @property
    def pinnable(self) -> bool:
        """A test can assert this outcome: a literal result, or a built-in exception."""
        if self.kind == "return":
            return self.result_literal
        return self.kind == "raise" and self.error_module == "builtins"


@dataclass(frozen=True)
class Observed:
    """The outcomes of one checkout, in input order, and what went wrong getting them."""

    outcomes: tuple[Outcome, ...]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Disagreement:
    """An input on which the base and a mutant behave differently."""

    base: Outcome
    mutant: Outcome

    @property
    def only_in_arguments(self) -> bool:
        """Same result or error; only how the call changed its arguments differs."""
        return self.base.behaviour[:-1] == self.mutant.behaviour[:-1]


def observe(request: Request, baseline: Baseline, checkout: Path, target: Target) -> Observed:
    """Call ``target`` on every usable input inside the checkout at ``checkout``."""
    if baseline.capture_file is None:
        return Observed((), ("no calls were captured",))
    project = request.project_path(checkout)
    with tempfile.TemporaryDirectory(prefix="selfimprove-chaos-") as scratch:
        output = Path(scratch) / "outcomes.json"
        settings = Path(scratch) / "settings.json"
        settings.write_text(
            json.dumps(
                {
                    "capture": str(baseline.capture_file),
                    "target": target.key,
                    "output": str(output),
                    "call_timeout": CALL_TIMEOUT,
                    "max_inputs": MAX_INPUTS,
                    "max_source": MAX_SOURCE,
                }
            )
        )
        done = sandbox.run(
            [request.interpreter, str(SCRIPT), str(settings)],
            project,
            timeout=request.limits.replay_timeout,
            kind="chaos",
            env=import_path_env(baseline.import_roots, project),
            request=request,
            writable=(Path(scratch),),
            readable=(baseline.capture_file,),
        )
        if done.timed_out or not output.exists():
            why = "timed out" if done.timed_out else f"exited {done.returncode}: {done.tail(1)}"
            return Observed((), (f"the input search {why}",))
        answer = json.loads(output.read_text())
    outcomes = tuple(Outcome.from_json(e) for e in answer.get("inputs", ()))
    return Observed(outcomes, tuple(str(e) for e in answer.get("errors", ())))


def disagreement(
    base: Observed, mutant: Observed, pinned: Sequence[Outcome] = ()
) -> Disagreement | None:
    """The best input a test can pin where the mutant differs from the base, or None.

    An input already ``pinned`` by another test comes first (one test then kills both
    mutants); then one where the mutant finishes (a hanging mutant makes a slow test);
    then the shortest (the test reads best).
    """
    pairs = [
        Disagreement(b, m)
        for b, m in zip(base.outcomes, mutant.outcomes, strict=False)
        if b.args == m.args and b.kwargs == m.kwargs
    ]
    usable = [
        d
        for d in pairs
        if d.base.finished
        and d.base.pinnable
        and d.base.source_size <= MAX_PINNED
        and d.base.behaviour != d.mutant.behaviour
        and (not d.only_in_arguments or d.base.after_literal)
    ]
    taken = {(o.args, o.kwargs) for o in pinned}

    def rank(d: Disagreement) -> tuple[bool, bool, int]:
        pinned_before = (d.base.args, d.base.kwargs) in taken
        return (not pinned_before, not d.mutant.finished, d.base.source_size)

    return min(usable, key=rank, default=None)
