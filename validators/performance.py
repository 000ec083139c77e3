"""Gate 7: the candidate is measurably faster on real calls, and behaves the same on them.

The calls captured while the base suite ran are replayed in subprocesses, one per
worktree. First each side checks its own results against the capture: calls the base
itself does not reproduce are nondeterministic and dropped; any other call the candidate
answers differently rejects it, because a speed-up that changes behaviour is a bug.

Then base and candidate are timed in rounds, each round in a *fresh* pair of processes
and in a balanced, shuffled order. Fresh processes matter: the same code in two processes
can run 10-25 % apart for good (memory layout, the core it lands on), so one long-lived pair
would let that offset pass for a speed-up; a new pair per round turns it into noise the
statistics see. :mod:`validators.perfstats` then decides on one sample per side per round.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core import sandbox
from validators import perfstats
from validators.context import GateContext, Verdict, failed, passed
from validators.replay_client import ReplayError, ReplayProcess

NAME = "performance"
MAX_LOOPS = 10_000_000
WARM_UP_RUNS = 8  # the 3.11+ interpreter specialises a function after a few runs
SEED = 0

Samples = dict[str, tuple[list[float], list[float]]]  # key -> (base, candidate) s per call


@dataclass(frozen=True)
class Equivalence:
    """Which captured calls both sides reproduce, and the first one the candidate does not."""

    usable: dict[str, list[int]]
    excluded: int  # the base's own replay disagrees with the capture: nondeterministic
    unloadable: int  # the base could not even load the call
    problem: str | None = None
    base_errors: tuple[str, ...] = ()


def check(ctx: GateContext) -> Verdict:
    """Pass only a candidate that keeps every captured behaviour and is proven faster."""
    key = ctx.candidate.target.key
    capture = ctx.baseline.capture_file
    if capture is None or ctx.baseline.captured_calls.get(key, 0) == 0:
        return failed(f"no captured calls for {key}: equivalence cannot be shown")
    others = [
        other
        for other in ctx.baseline.affected_targets(key)
        if ctx.baseline.captured_calls.get(other, 0) > 0
    ]
    keys = [key, *dict.fromkeys(others)]
    began = time.perf_counter()
    try:
        with _pair(ctx, capture) as (base, candidate):
            same = _equivalent_calls(ctx, base, candidate, keys)
            counts = {"excluded_nondeterministic": same.excluded, "unloadable": same.unloadable}
            if same.problem is not None:
                return failed(same.problem, **counts)
            if not same.usable[key]:
                why = "; ".join(same.base_errors) or (
                    f"{same.excluded} not reproducible and {same.unloadable} not loadable "
                    "on the base"
                )
                reason = f"no captured calls for {key}: equivalence cannot be shown ({why})"
                return failed(reason, **counts)
            timed = [k for k in keys if same.usable[k]]
            sample_ns = ctx.request.thresholds.sample_seconds * 1e9
            loops = {k: _calibrate(base, k, same.usable[k], sample_ns) for k in timed}
        samples = _measure(ctx, capture, loops, same.usable)
    except ReplayError as exc:
        return failed(str(exc))
    finally:
        sandbox.CLOCK.add("replay", time.perf_counter() - began)
    return _decide(ctx, samples, loops, same.usable, counts)


@contextmanager
def _pair(ctx: GateContext, capture: Path) -> Iterator[tuple[ReplayProcess, ReplayProcess]]:
    """A base and a candidate replay process, both stopped on the way out."""
    with ExitStack() as stack:
        base, candidate = (
            stack.enter_context(
                ReplayProcess(
                    side,
                    ctx.request.interpreter,
                    project,
                    capture,
                    ctx.baseline.import_roots,
                    ctx.request.limits.replay_timeout,
                )
            )
            for side, project in (("base", ctx.base_project), ("candidate", ctx.candidate_project))
        )
        yield base, candidate


def _equivalent_calls(
    ctx: GateContext, base: ReplayProcess, candidate: ReplayProcess, keys: list[str]
) -> Equivalence:
    """Check both sides against the capture; only calls the base reproduces count."""
    tolerances = (ctx.request.thresholds.float_rel_tol, ctx.request.thresholds.float_abs_tol)
    on_base = base.check(keys, *tolerances)
    on_candidate = candidate.check(keys, *tolerances)
    usable: dict[str, list[int]] = {}
    excluded = unloadable = 0
    for key in keys:
        verdicts: list[bool | None] = list(on_base[key].get("verdicts", []))
        excluded += sum(v is False for v in verdicts)
        unloadable += sum(v is None for v in verdicts)
        usable[key] = [i for i, v in enumerate(verdicts) if v is True]
        theirs: list[bool | None] = list(on_candidate[key].get("verdicts", []))
        for index in usable[key]:
            if index < len(theirs) and theirs[index] is True:
                continue
            reasons: dict[str, str] = on_candidate[key].get("reasons", {})
            errors: list[str] = on_candidate[key].get("errors", [])
            why = reasons.get(str(index)) or "; ".join(errors) or "not replayed"
            problem = f"behaviour differs on captured call {index} of {key}: {why}"
            return Equivalence(usable, excluded, unloadable, problem)
    base_errors = tuple(on_base[keys[0]].get("errors", []))
    return Equivalence(usable, excluded, unloadable, base_errors=base_errors)


def _warm_up(process: ReplayProcess, key: str, calls: Sequence[int], most: int) -> None:
    """Run every call a few times: imports, caches and the adaptive interpreter settle."""
    process.time_ns(key, min(most, max(1, WARM_UP_RUNS // len(calls))), calls)


def _calibrate(base: ReplayProcess, key: str, calls: Sequence[int], sample_ns: float) -> int:
    """Loops that make one sample of ``calls`` take about ``sample_ns`` on the base."""
    _warm_up(base, key, calls, 1)
    loops = 1
    while True:
        ns = base.time_ns(key, loops, calls)
        if ns * 4 >= sample_ns or loops >= MAX_LOOPS:
            return max(1, min(MAX_LOOPS, round(loops * sample_ns / max(ns, 1))))
        loops = min(MAX_LOOPS, loops * 8)


def _measure(
    ctx: GateContext, capture: Path, loops: dict[str, int], usable: dict[str, list[int]]
) -> Samples:
    """One sample per side, per round, per key (seconds per call), each round in new processes."""
    samples: Samples = {k: ([], []) for k in loops}
    rounds = ctx.request.thresholds.rounds
    rng = random.Random(SEED)
    first = {k: _balanced(rounds, rng) for k in loops}  # who goes first: half base, half not
    for round_ in range(rounds):
        with _pair(ctx, capture) as pair:
            for key, n in loops.items():
                for process in pair:
                    _warm_up(process, key, usable[key], n)
            for key, n in loops.items():
                for side in (first[key][round_], 1 - first[key][round_]):
                    ns = pair[side].time_ns(key, n, usable[key])
                    samples[key][side].append(ns / (n * len(usable[key]) * 1e9))
    return samples


def _balanced(rounds: int, rng: random.Random) -> list[int]:
    """A shuffled plan where each side is sampled first in half of the rounds."""
    plan = [i % 2 for i in range(rounds)]
    rng.shuffle(plan)
    return plan


def _decide(
    ctx: GateContext,
    samples: Samples,
    loops: dict[str, int],
    usable: dict[str, list[int]],
    counts: dict[str, int],
) -> Verdict:
    """Accept a significant speed-up of the target that slows no other captured target."""
    thresholds = ctx.request.thresholds
    key, *other_keys = list(samples)
    main = perfstats.speedup(*samples[key], thresholds)
    others = {k: perfstats.slowdown(*samples[k], thresholds) for k in other_keys}
    n = len(usable[key])
    details: dict[str, Any] = {
        **main.details(),
        "min_speedup": main.min_ratio,
        "calls": n,
        "rounds": thresholds.rounds,
        "loops": loops[key],
        **counts,
        "other_targets": {
            k: {**c.details(), "calls": len(usable[k]), "slower": c.significant}
            for k, c in others.items()
        },
    }
    if not main.significant:
        return failed(
            f"no proven speed-up over {n} captured calls: {main.summary()}; needs "
            f"p < {thresholds.p_value:g} and a CI above {main.min_ratio:g}x",
            **details,
        )
    for other, comparison in others.items():
        if comparison.significant:
            return failed(f"the change slows {other}: {comparison.summary(' slower')}", **details)
    return passed(f"{main.summary(' faster')} over {n} captured calls", **details)
