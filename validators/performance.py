"""Gate 7: the candidate is measurably faster on real calls, and behaves the same on them.

The calls captured while the base suite ran are replayed in subprocesses, one per
worktree. First each side checks its own results against the capture: calls the base
itself does not reproduce are nondeterministic and dropped; any other call the candidate
answers differently rejects it, because a speed-up that changes behaviour is a bug.

Then base and candidate are timed (:mod:`validators.perftiming`): by default side by side
in the same processes, so a process's own speed offset cancels; a target that cannot be
timed so (the project cannot be imported twice, a copy behaves differently when it shares
a process, ...) falls back to fresh process pairs per round, and the verdict says which
method timed each target and why. :mod:`validators.perfstats` then decides.

The timing is a sequential test with a futility bound: after each quarter of the target's
rounds but the last, a candidate whose ratio CI lies wholly below the floor is rejected
there (``stop_early``; the verdict says so), so a clearly slower or no-faster candidate
costs a fraction of a full verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.core import sandbox
from bot.core.baseline import Baseline
from bot.core.request import Thresholds
from validators import perfstats, perftiming
from validators.context import GateContext, Verdict, failed, passed
from validators.paths import project_relative
from validators.replay_client import ReplayError, ReplayProcess

NAME = "performance"
Timing = Literal["in-process", "fresh-pairs"]
LOOK = perfstats.LOOK_CONFIDENCE  # the futility look's CI level
IN_PROCESS: Timing = "in-process"
FRESH_PAIRS: Timing = "fresh-pairs"


@dataclass(frozen=True)
class Equivalence:
    """Which captured calls both sides reproduce, and the first one the candidate does not."""

    usable: dict[str, list[int]]
    excluded: int  # the base's own replay disagrees with the capture: nondeterministic
    unloadable: int  # the base could not even load the call
    problem: str | None = None
    base_errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Timed:
    """One target's comparison and how its samples were taken."""

    comparison: perfstats.Comparison
    method: Timing
    samples: int  # (base, candidate) pairs in-process, rounds in fresh pairs
    fallback: str | None = None  # why in-process timing was not used, when it was asked for
    look: perfstats.Comparison | None = None  # the futility look that stopped it early

    @property
    def stopped_early(self) -> bool:
        return self.look is not None

    def details(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            **self.comparison.details(),
            "timing_method": self.method,
            "samples": self.samples,
        }
        if self.fallback:
            found["timing_fallback"] = self.fallback
        if self.look is not None:
            found["stopped_early"] = True
            found["look_confidence"] = self.look.confidence
            found["look_ci_low"] = self.look.ci_low
            found["look_ci_high"] = self.look.ci_high
        return found


def check(ctx: GateContext, timing: Timing = IN_PROCESS, stop_early: bool = True) -> Verdict:
    """Pass only a candidate that keeps every captured behaviour and is proven faster.

    ``timing`` picks how samples are taken; the default is the stronger method, and
    ``"fresh-pairs"`` is kept so a benchmark can compare the two on the same candidate.
    ``stop_early=False`` turns the futility look off, for the same reason.
    """
    tests = only_test_files(ctx)
    if tests:
        reason = f"no target code changed (only tests: {', '.join(tests)}): not applicable"
        return passed(reason, applicable=False)
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
        with perftiming.pair(ctx, capture) as (base, candidate):
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
            fair = fair_sample(ctx.baseline, same.usable)
            if not fair[key]:
                reason = f"none of the randomly sampled calls of {key} replay on the base"
                return failed(reason, **counts)
            timed = [k for k in keys if fair[k]]
            sample_ns = ctx.request.thresholds.sample_seconds * 1e9
            loops = {k: perftiming.calibrate(base, k, fair[k], sample_ns) for k in timed}
        results = _time(ctx, capture, loops, fair, timing, stop_early)
    except ReplayError as exc:
        return failed(str(exc))
    finally:
        sandbox.CLOCK.add("replay", time.perf_counter() - began)
    return _decide(ctx, results, loops, fair, counts)


def fair_sample(baseline: Baseline, usable: dict[str, list[int]]) -> dict[str, list[int]]:
    """The usable calls of each key that came from the capture's random sample.

    The calls kept after it for covering new lines are checked for equal behaviour, but not
    timed: they over-represent rare paths, and the speed-up shown must be the suite's.
    """
    fair: dict[str, list[int]] = {}
    for key, indices in usable.items():
        sampled = baseline.sampled_calls.get(key, baseline.captured_calls.get(key, 0))
        fair[key] = [i for i in indices if i < sampled]
    return fair


def only_test_files(ctx: GateContext) -> tuple[str, ...]:
    """The changed files (project-relative) if every one is test code, else ().

    Such a candidate (new regression tests, say) changes nothing that runs outside the
    suite, so there is no speed to measure; the unit gate has already run it.
    """
    found: list[str] = []
    for repo_path in ctx.candidate.files:
        relative = project_relative(ctx.request.project, repo_path)
        if relative is None or not _is_test_path(relative):
            return ()
        found.append(relative)
    return tuple(found)


def _is_test_path(relative: str) -> bool:
    *folders, name = relative.split("/")
    if any(folder in ("tests", "test", "testing") for folder in folders):
        return True
    return name == "conftest.py" or (
        name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
    )


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


def _time(
    ctx: GateContext,
    capture: Path,
    loops: dict[str, int],
    usable: dict[str, list[int]],
    timing: Timing,
    stop_early: bool,
) -> dict[str, Timed]:
    """Time every key in-process where possible (when asked to), the rest in fresh pairs.

    When a futility look stops the timing, only the target is in the result, with the look.
    """
    thresholds = ctx.request.thresholds
    target = next(iter(loops))  # the others are only checked for slow-downs
    results: dict[str, Timed] = {}
    fallback: dict[str, str] = {}
    if timing == IN_PROCESS:
        paired_look = _paired_look(thresholds) if stop_early else None
        ab = perftiming.in_process(ctx, capture, loops, usable, paired_look)
        fallback = ab.fallback
        if ab.stopped_early:
            groups = ab.pairs[target]
            look = perfstats.paired_speedup(groups, thresholds, LOOK)
            main = perfstats.paired_speedup(groups, thresholds)
            return {target: Timed(main, IN_PROCESS, _size(groups), look=look)}
        for key, groups in ab.pairs.items():
            paired = perfstats.paired_speedup if key == target else perfstats.paired_slowdown
            results[key] = Timed(paired(groups, thresholds), IN_PROCESS, _size(groups))
    rest = {k: n for k, n in loops.items() if k not in results}
    if rest:
        sample_look = _fresh_look(thresholds) if stop_early and target in rest else None
        fresh = perftiming.fresh_pairs(ctx, capture, rest, usable, sample_look)
        if fresh.stopped_early:
            base, candidate = fresh.samples[target]
            look = perfstats.speedup(base, candidate, thresholds, LOOK)
            main = perfstats.speedup(base, candidate, thresholds)
            why = fallback.get(target)
            return {target: Timed(main, FRESH_PAIRS, len(base), why, look=look)}
        for key, (base, candidate) in fresh.samples.items():
            judge = perfstats.speedup if key == target else perfstats.slowdown
            comparison = judge(base, candidate, thresholds)
            results[key] = Timed(comparison, FRESH_PAIRS, len(base), fallback.get(key))
    return {k: results[k] for k in loops}


def _planned(method: Timing, thresholds: Thresholds) -> int:
    """The samples a full run takes: pairs in all A/B processes, or fresh-pair rounds."""
    return thresholds.rounds * (perftiming.AB_PROCESSES if method == IN_PROCESS else 1)


def _size(groups: list[list[tuple[float, float]]]) -> int:
    return sum(len(group) for group in groups)


def _paired_look(thresholds: Thresholds) -> perftiming.PairedLook:
    """The futility look on in-process pairs of the target."""
    return lambda groups: perfstats.futile(perfstats.paired_speedup(groups, thresholds, LOOK))


def _fresh_look(thresholds: Thresholds) -> perftiming.SampleLook:
    """The futility look on fresh-pair samples of the target."""
    return lambda base, candidate: perfstats.futile(
        perfstats.speedup(base, candidate, thresholds, LOOK)
    )


def _decide(
    ctx: GateContext,
    results: dict[str, Timed],
    loops: dict[str, int],
    usable: dict[str, list[int]],
    counts: dict[str, int],
) -> Verdict:
    """Accept a significant speed-up of the target that slows no other captured target."""
    thresholds = ctx.request.thresholds
    key, *other_keys = list(results)
    main = results[key].comparison
    n = len(usable[key])
    details: dict[str, Any] = {
        **results[key].details(),
        "min_speedup": main.min_ratio,
        "calls": n,
        "rounds": thresholds.rounds,
        "loops": loops[key],
        **counts,
        "other_targets": {
            k: {
                **results[k].details(),
                "calls": len(usable[k]),
                "slower": results[k].comparison.significant,
            }
            for k in other_keys
        },
    }
    if results[key].method == IN_PROCESS and not results[key].stopped_early:
        details["processes"] = perftiming.AB_PROCESSES
    look = results[key].look
    if look is not None:
        return failed(
            f"no proven speed-up over {n} captured calls: {look.summary()} after "
            f"{results[key].samples} of {_planned(results[key].method, thresholds)} samples, "
            f"a CI wholly below {look.min_ratio:g}x: stopped early",
            **details,
        )
    if not main.significant:
        return failed(
            f"no proven speed-up over {n} captured calls: {main.summary()}; needs "
            f"p < {thresholds.p_value:g} and a CI above {main.min_ratio:g}x",
            **details,
        )
    for other in other_keys:
        comparison = results[other].comparison
        if comparison.significant:
            return failed(f"the change slows {other}: {comparison.summary(' slower')}", **details)
    return passed(f"{main.summary(' faster')} over {n} captured calls", **details)
