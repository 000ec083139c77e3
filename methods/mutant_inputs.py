"""Where a mutant and the base disagree: the bot's side of ``selfimprove_mutant_diff.py``.

The harness runs in the target's interpreter, once in the base checkout and once in a
mutant's, and calls the target on the same inputs (captured and derived); this module
compares the two answers line by line. When no input short enough for a test tells them
apart, :func:`shrink` has the harness import the base beside the mutant and shrink a long
captured input on which they disagree. The bot reads only JSON with ``repr`` texts, and
evaluates nothing but ``ast.literal_eval`` of them.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.core.baseline import Baseline
from bot.core.candidate import Target
from bot.core.harness_script import run_script
from bot.core.request import Request

SCRIPT = "selfimprove_mutant_diff.py"
CALL_TIMEOUT = 2.0
MAX_INPUTS = 200
MAX_SOURCE = 1000  # characters of arguments written as source, per input
MAX_PINNED = 400  # characters of arguments and result a test may spell out
DIFFERS = "it differs from the base on"  # how the note on such a survivor begins
SHRINK_SECONDS = 20.0  # per survivor
SHRINK_TRIES = 2000  # smaller inputs tried per survivor
_UNFINISHED = ("timeout", "aborted")


@dataclass(frozen=True)
class Outcome:
    """What one call did: returned (``result`` is its repr), raised, or never finished.

    A call that returned a generator did what taking its items did: ``result`` is the repr
    of their list, ``yields`` how many, ``exhausted`` whether it ended (or raised) there."""

    args: tuple[str, ...]
    kwargs: tuple[tuple[str, str], ...]
    derived: bool
    kind: str
    callee: str = ""
    setup: tuple[str, ...] = ()  # lines a test runs before the call (a receiver set up)
    imports: tuple[tuple[str, str], ...] = ()
    receiver: str = "null"  # JSON: how the harness rebuilds the receiver (null: none)
    result: str = ""
    result_literal: bool = False
    result_type: str = ""  # module:qualname of the result's type
    error_type: str = ""
    error_module: str = ""
    error_message: str = ""
    after: str = ""
    yields: int | None = None  # a generator: how many items were taken (None: not one)
    exhausted: bool = False  # ... and whether it ended there (else: a prefix of it)

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Outcome:
        return cls(
            args=tuple(str(a) for a in entry.get("args", ())),
            kwargs=tuple((str(k), str(v)) for k, v in dict(entry.get("kwargs", {})).items()),
            derived=bool(entry.get("derived")),
            kind=str(entry.get("outcome", "aborted")),
            callee=str(entry.get("callee", "")),
            setup=tuple(str(line) for line in entry.get("setup", ())),
            imports=tuple((str(m), str(n)) for m, n in entry.get("imports", ())),
            receiver=json.dumps(entry.get("receiver"), sort_keys=True),
            result=str(entry.get("result", "")),
            result_literal=bool(entry.get("result_literal")),
            result_type=str(entry.get("result_type", "")),
            error_type=str(entry.get("error_type", "")),
            error_module=str(entry.get("error_module", "")),
            error_message=str(entry.get("error_message", "")),
            after=str(entry.get("after", "")),
            yields=None if entry.get("yields") is None else int(entry["yields"]),
            exhausted=bool(entry.get("exhausted")),
        )

    def to_input(self) -> dict[str, Any]:
        """This input as the harness takes it back (to call a mutant on the base's inputs)."""
        return {
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "derived": self.derived,
            "receiver": json.loads(self.receiver),
            "callee": self.callee,
            "setup": list(self.setup),
            "imports": [list(i) for i in self.imports],
        }

    @property
    def call(self) -> tuple[object, ...]:
        """What was called, on what: equal calls line up between two checkouts."""
        return self.setup, self.callee, self.args, self.kwargs

    @property
    def finished(self) -> bool:
        return self.kind not in _UNFINISHED

    @property
    def by_type(self) -> bool:
        """A result no literal can spell: a test pins its type (the repr may hold an address)."""
        return self.kind == "return" and not self.result_literal

    @property
    def behaviour(self) -> tuple[str, ...]:
        """Everything a caller can observe, as comparable text."""
        return (
            self.kind,
            f"an instance of {self.result_type}" if self.by_type else self.result,
            self.error_module,
            self.error_type,
            self.error_message,
            "to its end" if self.exhausted else "",  # 30 items, or the first 30 of more
            self.after,
        )

    @property
    def source_size(self) -> int:
        """How much a test pinning this outcome must spell out: arguments and result."""
        kwargs = sum(len(k) + len(v) for k, v in self.kwargs)
        result = len(self.result_type if self.by_type else self.result)
        return sum(map(len, self.args)) + kwargs + result + len(self.error_message)

    @property
    def after_literal(self) -> bool:
        """The arguments after the call can be written as source (to pin in-place changes)."""
        try:
            return repr(ast.literal_eval(self.after)) == self.after
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return False

    @property
    def pinnable(self) -> bool:
        """A test can assert this outcome: a literal result, the type of another result
        (one a test can name), or a built-in exception."""
        if self.kind == "return":
            return self.result_literal or bool(
                self.result_type and "<locals>" not in self.result_type
            )
        return self.kind == "raise" and self.error_module == "builtins"


@dataclass(frozen=True)
class Observed:
    """The outcomes of one checkout, in input order, and what went wrong getting them."""

    outcomes: tuple[Outcome, ...]
    errors: tuple[str, ...] = ()
    refused: tuple[tuple[str, int], ...] = ()  # why receivers could not be rebuilt, how often

    @classmethod
    def from_json(cls, answer: dict[str, Any], key: str = "inputs") -> Observed:
        refused = dict(answer.get("refused", {}))
        return cls(
            tuple(Outcome.from_json(e) for e in answer.get(key, ())),
            tuple(str(e) for e in answer.get("errors", ())),
            tuple((str(why), int(n)) for why, n in refused.items()),
        )


@dataclass(frozen=True)
class Disagreement:
    """An input on which the base and a mutant behave differently."""

    base: Outcome
    mutant: Outcome

    @property
    def only_in_arguments(self) -> bool:
        """Same result or error; only how the call changed its arguments differs."""
        return self.base.behaviour[:-1] == self.mutant.behaviour[:-1]


def observe(
    request: Request,
    baseline: Baseline,
    checkout: Path,
    target: Target,
    inputs: Sequence[Outcome] | None = None,
) -> Observed:
    """Call ``target`` inside the checkout at ``checkout`` on every usable input, or on
    ``inputs`` (the base's: a mutant is called on exactly those, receivers rebuilt alike)."""
    given = None if inputs is None else [o.to_input() for o in inputs]
    answer = _harness(request, baseline, checkout, target, {}, given=given)
    return (
        Observed.from_json(answer) if "inputs" in answer else Observed((), tuple(answer["errors"]))
    )


def shrink(
    request: Request, baseline: Baseline, mutant: Path, target: Target
) -> tuple[Observed, Observed]:
    """The base's and the mutant's outcomes on a small input shrunk from a long captured one.

    Empty when no long captured input tells them apart (or none can be written as source).
    """
    base_root = request.project_path(baseline.root)
    settings = {"base_root": str(base_root), "shrink_seconds": SHRINK_SECONDS}
    more = {**settings, "max_tries": SHRINK_TRIES}
    answer = _harness(request, baseline, mutant, target, more, also_read=(base_root,))
    if "base" not in answer:
        return Observed((), tuple(answer["errors"])), Observed(())
    return Observed.from_json(answer, "base"), Observed.from_json(answer, "mutant")


def _harness(
    request: Request,
    baseline: Baseline,
    checkout: Path,
    target: Target,
    more: dict[str, Any],
    *,
    given: list[Any] | None = None,
    also_read: tuple[Path, ...] = (),
) -> dict[str, Any]:
    """The harness's JSON answer in the checkout at ``checkout``, or ``{"errors": (why,)}``.

    ``given`` inputs travel in the call's own scratch folder, the one place beside the
    checkout the sandboxed harness may read and write; ``also_read`` adds folders it may
    read (the base project, when shrinking compares the two side by side).
    """
    if baseline.capture_file is None:
        return {"errors": ("no calls were captured",)}
    ran = run_script(
        request,
        SCRIPT,
        request.project_path(checkout),
        {
            "capture": str(baseline.capture_file),
            "target": target.key,
            "call_timeout": CALL_TIMEOUT,
            "max_inputs": MAX_INPUTS,
            "max_source": MAX_SOURCE,
            **more,
        },
        import_roots=baseline.import_roots,
        kind="chaos",
        readable=(baseline.capture_file, *also_read),
        files={"inputs_file": given} if given is not None else None,
    )
    if ran.answer is None:
        return {"errors": (f"the input search {ran.problem}",)}
    return ran.answer


def disagreement(
    base: Observed, mutant: Observed, pinned: Sequence[Outcome] = ()
) -> Disagreement | None:
    """The best input a test can pin where the mutant differs from the base, or None.

    An input already ``pinned`` by another test comes first (one test then kills both
    mutants); then one where the mutant finishes (a hanging mutant makes a slow test);
    then the shortest (the test reads best).
    """
    usable = [d for d in _differing(base, mutant) if _unpinnable(d) is None]
    taken = {o.call for o in pinned}

    def rank(d: Disagreement) -> tuple[bool, bool, int]:
        pinned_before = d.base.call in taken
        return (not pinned_before, not d.mutant.finished, d.base.source_size)

    return min(usable, key=rank, default=None)


def _differing(base: Observed, mutant: Observed) -> list[Disagreement]:
    """The inputs, called alike on both, where the mutant behaves otherwise."""
    return [
        Disagreement(_cut(b, m), m)
        for b, m in zip(base.outcomes, mutant.outcomes, strict=False)
        if b.call == m.call and b.behaviour != m.behaviour
    ]


def _cut(base: Outcome, mutant: Outcome) -> Outcome:
    """``base`` keeping only the items of its generator a test needs against ``mutant``:
    up to the first the mutant yields otherwise, or the one it raises or stops at.

    A test of thirty items says no more than one of two, and reads worse; ``base`` is kept
    whole when all of it is needed, or it is no generator with literal items."""
    if base.yields is None or base.kind != "return" or not base.result_literal:
        return base
    items = ast.literal_eval(base.result)
    if mutant.kind == "raise" and mutant.yields is not None:
        need = mutant.yields + 1
    elif mutant.kind == "return" and mutant.yields is not None and mutant.result_literal:
        theirs = ast.literal_eval(mutant.result)
        pairs = enumerate(zip(items, theirs, strict=False))
        differs = (i + 1 for i, (a, b) in pairs if a != b)  # as the test compares: 0 == 0.0
        need = next(differs, min(len(items), len(theirs)) + 1)
    else:
        return base
    if need > len(items) or (need == len(items) and base.exhausted):
        return base
    return replace(base, result=repr(items[:need]), yields=need, exhausted=False)


def _unpinnable(found: Disagreement) -> str | None:
    """Why no test can pin the base's side of ``found``, or None when one can."""
    base = found.base
    if not base.finished:
        return "the base did not finish either"
    if not base.pinnable:
        if base.kind == "raise":
            return f"the base raises {base.error_module}.{base.error_type}, not a built-in error"
        return f"the base returns {base.result_type or 'an object'}, which no test can name"
    if base.source_size > MAX_PINNED:
        return f"the input and answer take {base.source_size} characters to write"
    if found.only_in_arguments and not base.after_literal:
        return "only how it changes its arguments differs, and they cannot be written back"
    return None


def unpinned(base: Observed, mutant: Observed) -> str:
    """Where the mutant differs but no test can pin it: how often and why, or ""."""
    reasons = [why for d in _differing(base, mutant) if (why := _unpinnable(d)) is not None]
    if not reasons:
        return ""
    return f"{DIFFERS} {len(reasons)} input(s), but no test can pin one: {reasons[0]}"
