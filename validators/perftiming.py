"""How the performance gate times base against candidate: in one process, or in fresh pairs.

The same code in two processes can run 10-25 % apart for good (memory layout, the core it
lands on). Both methods keep that offset from passing for a speed-up:

* :func:`in_process` (the default) times both in *one* process, so the offset is shared
  and cancels. A replay process started in one worktree imports a second copy of the
  project from the other worktree (``OtherCopy`` in the harness) and times the two
  copies in back-to-back pairs in shuffled order. Half of the processes start in the
  candidate's worktree and load the base as the copy, half the other way round, so being
  the copy cannot favour a side; several processes, so one process's layout luck cannot
  decide. Every target keeps its real call graph: a caller of the changed function is
  timed as the base copy of the caller (calling the base copy of the function) against
  the native one, so regressions in affected targets are measured the same way.
* :func:`fresh_pairs` starts a new base and candidate process per round and turns the
  offset into noise the statistics see. Honest but weak: the offset is as large as the
  gains worth having. It stays as the fallback, and selectable for comparison.

Before a process's samples count, both copies replay every usable captured call and must
reproduce it, and neither may run code from the other worktree (a profile hook watches):
a target that fails either check, or a project that cannot be imported twice, falls back
to fresh pairs, with the reason kept.

Both methods time the target first and, after each quarter of its rounds but the last,
let the caller's futility look stop them (see :func:`validators.perfstats.futile`): a
clearly slower or no-faster candidate then costs a quarter of the target's timing and
none of the other targets'. In-process, the first quarter comes from two processes of
opposite orientation run side by side, so the first look already sees both ways of being
the copy.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from validators.context import GateContext
from validators.replay_client import NATIVE, OTHER, ReplayError, ReplayProcess

MAX_LOOPS = 10_000_000
WARM_UP_RUNS = 8  # the 3.11+ interpreter specialises a function after a few runs
SEED = 0
AB_PROCESSES = 4  # in-process A/B: processes per gate run, each timing ``rounds`` pairs
LOOK_PROCESSES = 2  # the processes that hold the first futility look's pairs, side by side
FIRST_LOOK = 4  # futility looks come after each 1/FIRST_LOOK of the target's rounds

Samples = dict[str, tuple[list[float], list[float]]]  # key -> (base, candidate) s per call
Pairs = dict[str, list[list[tuple[float, float]]]]  # key -> per process -> (base, cand) s
PairedLook = Callable[[list[list[tuple[float, float]]]], bool]  # True: stop, futile
SampleLook = Callable[[list[float], list[float]], bool]  # (base, candidate) so far; True: stop


@dataclass(frozen=True)
class FreshPairs:
    """Fresh-pair samples, and whether the futility look stopped the rounds early."""

    samples: Samples
    stopped_early: bool = False


@dataclass(frozen=True)
class InProcess:
    """In-process pairs for the targets that could be timed so, and why the others could not."""

    pairs: Pairs
    fallback: dict[str, str]
    stopped_early: bool = False  # a futility look stopped it: only the target's pairs so far


def replay_process(
    ctx: GateContext, capture: Path, side: str, project: Path, other: Path | None = None
) -> ReplayProcess:
    """A replay process started in ``project``; ``side`` names it in error messages.

    ``other`` is the second project it may read (to load it with ``load_other``)."""
    return ReplayProcess(
        side,
        ctx.request.interpreter,
        project,
        capture,
        ctx.baseline.import_roots,
        ctx.request.limits.replay_timeout,
        ctx.request,
        (other,) if other is not None else (),
    )


@contextmanager
def pair(ctx: GateContext, capture: Path) -> Iterator[tuple[ReplayProcess, ReplayProcess]]:
    """A base and a candidate replay process, both stopped on the way out."""
    with ExitStack() as stack:
        base, candidate = (
            stack.enter_context(replay_process(ctx, capture, side, project))
            for side, project in (("base", ctx.base_project), ("candidate", ctx.candidate_project))
        )
        yield base, candidate


def warm_up(
    process: ReplayProcess, key: str, calls: Sequence[int], most: int, world: str = NATIVE
) -> None:
    """Run every call a few times: imports, caches and the adaptive interpreter settle."""
    process.time_ns(key, min(most, max(1, WARM_UP_RUNS // len(calls))), calls, world)


def calibrate(base: ReplayProcess, key: str, calls: Sequence[int], sample_ns: float) -> int:
    """Loops that make one sample of ``calls`` take about ``sample_ns`` on the base."""
    warm_up(base, key, calls, 1)
    loops = 1
    while True:
        ns = base.time_ns(key, loops, calls)
        if ns * 4 >= sample_ns or loops >= MAX_LOOPS:
            return max(1, min(MAX_LOOPS, round(loops * sample_ns / max(ns, 1))))
        loops = min(MAX_LOOPS, loops * 8)


def balanced(rounds: int, rng: random.Random) -> list[int]:
    """A shuffled plan where each side (0 base, 1 candidate) goes first in half the rounds."""
    plan = [i % 2 for i in range(rounds)]
    rng.shuffle(plan)
    return plan


def fresh_pairs(
    ctx: GateContext,
    capture: Path,
    loops: dict[str, int],
    usable: dict[str, list[int]],
    futile: SampleLook | None = None,
) -> FreshPairs:
    """One sample per side, per round, per key (seconds per call), each round in new processes.

    The target is the first key. After each quarter of the rounds but the last, ``futile``
    (if given) sees its samples so far; when it says so, the rounds stop and only the
    target's samples are kept.
    """
    samples: Samples = {k: ([], []) for k in loops}
    rounds = ctx.request.thresholds.rounds
    target = next(iter(loops))
    looks = {max(2, rounds * i // FIRST_LOOK) for i in range(1, FIRST_LOOK)}
    rng = random.Random(SEED)
    first = {k: balanced(rounds, rng) for k in loops}
    for round_ in range(rounds):
        if futile is not None and round_ in looks and futile(*samples[target]):
            return FreshPairs({target: samples[target]}, stopped_early=True)
        with pair(ctx, capture) as processes:
            for key, n in loops.items():
                for process in processes:
                    warm_up(process, key, usable[key], n)
            for key, n in loops.items():
                for side in (first[key][round_], 1 - first[key][round_]):
                    ns = processes[side].time_ns(key, n, usable[key])
                    samples[key][side].append(ns / (n * len(usable[key]) * 1e9))
    return FreshPairs(samples)


@dataclass
class _AB:
    """One A/B process: which world holds the base and which the candidate, and its pairs."""

    process: ReplayProcess
    worlds: tuple[str, str]  # (base world, candidate world)
    timed: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def time(
        self, key: str, loops: int, calls: list[int], count: int, rng: random.Random
    ) -> list[tuple[float, float]]:
        """``count`` more pairs of ``key`` (warmed up before its first ones); all so far."""
        if key not in self.timed:
            for world in self.worlds:
                warm_up(self.process, key, calls, loops, world)
        found = self.timed.setdefault(key, [])
        found += _pairs(self.process, self.worlds, key, loops, calls, count, rng)
        return found


def in_process(
    ctx: GateContext,
    capture: Path,
    loops: dict[str, int],
    usable: dict[str, list[int]],
    futile: PairedLook | None = None,
) -> InProcess:
    """``rounds`` back-to-back (base, candidate) pairs per key in each of a few processes.

    The target is the first key and is timed first. The first ``LOOK_PROCESSES`` processes
    (one of each orientation) run side by side, so that the first quarter of the target's
    pairs already comes from both; after each quarter but the last, ``futile`` (if given)
    sees the target's pairs so far and may stop the timing there, before the other keys are
    timed. A process that fails sends its keys to the fallback.
    """
    fallback: dict[str, str] = {}
    rng = random.Random(SEED)
    count = ctx.request.thresholds.rounds
    target = next(iter(loops))
    opening = min(LOOK_PROCESSES, AB_PROCESSES)
    quarter = min(count, max(1, count * AB_PROCESSES // (FIRST_LOOK * opening)))
    finished: list[_AB] = []

    def stop(timing: list[_AB]) -> InProcess | None:
        """The early result when the look finds the target's pairs so far futile."""
        if futile is None or target in fallback:
            return None
        groups = [ab.timed[target] for ab in (*finished, *timing)]
        if sum(map(len, groups)) >= count * AB_PROCESSES:
            return None  # the last quarter: the full test decides
        return InProcess({target: groups}, fallback, stopped_early=True) if futile(groups) else None

    with ExitStack() as stack:
        try:
            opened = [
                _open(ctx, capture, i, loops, usable, fallback, stack) for i in range(opening)
            ]
            for size in dict.fromkeys((quarter, count)):  # both processes' first quarter, then all
                if target in fallback:
                    break
                for ab in opened:
                    more = size - len(ab.timed.get(target, ()))
                    ab.time(target, loops[target], usable[target], more, rng)
                if early := stop(opened):
                    return early
            for ab in opened:
                for key in (k for k in loops if k != target and k not in fallback):
                    ab.time(key, loops[key], usable[key], count, rng)
            finished += opened
        except ReplayError as exc:
            _fail(fallback, loops, exc)
    for index in range(opening, AB_PROCESSES):
        if all(k in fallback for k in loops):
            break
        try:
            with ExitStack() as stack:
                ab = _open(ctx, capture, index, loops, usable, fallback, stack)
                for key in (k for k in loops if k not in fallback):
                    ab.time(key, loops[key], usable[key], count, rng)
                    if key == target and (early := stop([ab])):
                        return early
                finished.append(ab)
        except ReplayError as exc:
            _fail(fallback, loops, exc)
    pairs = {k: [ab.timed[k] for ab in finished] for k in loops if k not in fallback}
    return InProcess(pairs, fallback)


def _open(
    ctx: GateContext,
    capture: Path,
    index: int,
    keys: Iterable[str],
    usable: dict[str, list[int]],
    fallback: dict[str, str],
    stack: ExitStack,
) -> _AB:
    """A/B process ``index``: started in one worktree with the other loaded as the copy.

    Even indices start in the candidate's worktree, odd ones in the base's. Keys whose
    copies are not faithful in it go to ``fallback``.
    """
    base_native = index % 2 == 1
    worlds = (NATIVE, OTHER) if base_native else (OTHER, NATIVE)
    native, other = ("base", "candidate") if base_native else ("candidate", "base")
    projects = {"base": ctx.base_project, "candidate": ctx.candidate_project}
    process = stack.enter_context(
        replay_process(ctx, capture, f"{native} A/B", projects[native], projects[other])
    )
    live = [k for k in keys if k not in fallback]
    process.load_other(projects[other], sorted({k.split(":")[0] for k in live}))
    fallback.update(_unfaithful(ctx, process, worlds, live, usable))
    return _AB(process, worlds)


def _fail(fallback: dict[str, str], keys: Iterable[str], exc: ReplayError) -> None:
    for key in keys:
        fallback.setdefault(key, f"in-process timing failed: {exc}")


def _unfaithful(
    ctx: GateContext,
    process: ReplayProcess,
    worlds: tuple[str, str],
    keys: list[str],
    usable: dict[str, list[int]],
) -> dict[str, str]:
    """Targets whose two copies do not each behave exactly like their own worktree."""
    tolerances = (ctx.request.thresholds.float_rel_tol, ctx.request.thresholds.float_abs_tol)
    problems: dict[str, str] = {}
    for side, world in zip(("base", "candidate"), worlds, strict=True):
        answers = process.check(keys, *tolerances, world=world)
        for key in keys:
            verdicts: list[bool | None] = list(answers[key].get("verdicts", []))
            wrong = [i for i in usable[key] if i >= len(verdicts) or verdicts[i] is not True]
            if wrong:
                reasons: dict[str, str] = answers[key].get("reasons", {})
                errors: list[str] = answers[key].get("errors", [])
                why = reasons.get(str(wrong[0])) or "; ".join(errors) or "not replayed"
                problems.setdefault(
                    key,
                    f"the {side} copy sharing a process does not reproduce captured call "
                    f"{wrong[0]}: {why}",
                )
            elif foreign := answers[key].get("foreign"):
                why = f"the {side} copy ran code of the other worktree: {foreign}"
                problems.setdefault(key, why)
    return problems


def _pairs(
    process: ReplayProcess,
    worlds: tuple[str, str],
    key: str,
    loops: int,
    calls: list[int],
    count: int,
    rng: random.Random,
) -> list[tuple[float, float]]:
    """``count`` (base, candidate) samples in seconds per call, timed back to back."""
    per_call = loops * len(calls) * 1e9
    timed: list[tuple[float, float]] = []
    for first in balanced(count, rng):
        ns = [0, 0]
        for side in (first, 1 - first):
            ns[side] = process.time_ns(key, loops, calls, worlds[side])
        timed.append((ns[0] / per_call, ns[1] / per_call))
    return timed
