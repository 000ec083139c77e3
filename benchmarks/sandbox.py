"""What the sandbox costs: one sandboxed call, and the example run with and without it.

    python benchmarks/sandbox.py [--calls N] [--targets FILE:FUNC ...] [--rounds N] [--adaptive]

Two ways of giving a bubblewrap call its limits are compared side by side, "before" and
"after" (see :mod:`bot.core.proclimits`): a pre-exec step in the forked child (Python
must then ``fork`` the whole bot), and ``sh`` + ``prlimit`` exec'd in front of ``bwrap``
(Python starts the call with ``vfork``). "Before" is the fallback where ``prlimit`` is
missing, forced here by hiding ``prlimit``. Prints four tables:

1. the example (``examples/textstats`` in a temporary monorepo, a fixed set of targets),
   run unsandboxed, sandboxed before and sandboxed after, in turn, ``--rounds`` times
   each: median wall time, its ratio to subprocess time (the bot's own overhead; goal
   <= 1.05), and sandboxed ÷ unsandboxed wall time (goal <= 1.10), of the medians and,
   less swayed by a change in the machine's load, the median of each round's ratio (its
   sandboxed run ÷ its unsandboxed run). The performance gate's futility look stops its
   timing early on noise-dependent evidence, so the sides would not do the same work; it
   is turned off (a fixed number of timing rounds, the same work each side) unless
   ``--adaptive`` is given;
2. starting one call: ``python -c pass`` N times, bare (``subprocess.run``), through
   :func:`bot.core.sandbox.run` with the sandbox off (the subreaper) and with bubblewrap
   both ways, interleaved: milliseconds per call (median), and the difference to bare.
   A fork costs more the bigger the process, so the bot's resident size is printed too
   (measured after the example, so the bot has the size a run gives it);
3. what the sandbox's start-up adds to one example run: (bubblewrap - subreaper) per call
   from table 2, times the subprocesses a run starts; a figure that, unlike table 1's
   wall times, a burst of load on a shared machine does not swing;
4. paired: one more run in which every subprocess call is made, after one warm-up call
   (a cache the first call fills would favour the second), four times back to back,
   sandboxed ("after") and unsandboxed in ABBA or BAAB order, and every performance-gate
   check (fixed rounds) twice, AB or BA, the order alternating per kind: the same work
   under the same load, by kind, and the ratio of the totals.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import functools
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run_example import make_monorepo  # noqa: E402

from bot.config import Flags, build_request  # noqa: E402
from bot.core import proclimits, sandbox  # noqa: E402
from bot.core.request import Request  # noqa: E402
from bot.core.sandbox_probe import probe  # noqa: E402
from bot.flow.progress import Progress  # noqa: E402
from bot.flow.run import run  # noqa: E402
from validators import performance  # noqa: E402
from validators.context import GateContext, Verdict  # noqa: E402

TARGETS = ("src/textstats/tokens.py:is_stopword", "src/textstats/index.py:vocabulary")
BEFORE, AFTER = "before: pre-exec (fork)", "after: sh+prlimit (vfork)"
OFF = "unsandboxed"
WAYS = (BEFORE, AFTER)
SUBREAPER = "sandbox off (subreaper)"


@contextlib.contextmanager
def spawning(way: str) -> Iterator[None]:
    """Sandboxed calls get their limits ``way``: before (no prlimit) or after."""
    if way == BEFORE:
        with mock.patch.object(proclimits, "prlimit_program", lambda: None):
            yield
    else:
        yield


@contextlib.contextmanager
def no_pids_cgroup() -> Iterator[None]:
    with mock.patch.object(proclimits, "pids_root", lambda: None):
        yield


def resident_mb() -> float:
    """This process's resident size now (what a fork copies the page tables of)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_start(request: Request, tmp: Path, count: int) -> dict[str, float]:
    """Print table 1; return the median milliseconds per call of each way (keyed as the
    columns of table 2, and ``OFF``)."""
    argv = [sys.executable, "-c", "pass"]

    def bare() -> None:
        subprocess.run(argv, cwd=tmp, check=True)

    def through(
        confined: bool, *contexts: Callable[[], contextlib.AbstractContextManager[None]]
    ) -> Callable[[], None]:
        chosen = dataclasses.replace(request, sandbox=confined)

        def call() -> None:
            with contextlib.ExitStack() as stack:
                for context in contexts:
                    stack.enter_context(context())
                done = sandbox.run(argv, tmp, timeout=60, kind="bench", request=chosen)
            assert done.ok, done.stderr

        return call

    calls = {
        "bare subprocess.run": bare,
        SUBREAPER: through(False),
        f"bubblewrap, {BEFORE}": through(True, functools.partial(spawning, BEFORE)),
        f"bubblewrap, {AFTER}": through(True, functools.partial(spawning, AFTER)),
    }
    if proclimits.pids_root() is not None:  # root: each call also joins a pids cgroup
        calls[f"bubblewrap, {AFTER}, no pids cgroup"] = through(True, no_pids_cgroup)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call()  # warm-up
    for _ in range(count):  # interleaved, so a change in load hits every row alike
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - began) * 1000)
    base = statistics.median(times["bare subprocess.run"])
    medians = {name: statistics.median(measured) for name, measured in times.items()}
    rows = [
        (name, f"{ms:7.1f} ms" + (f"  (+{ms - base:.1f} ms)" if ms != base else ""))
        for name, ms in medians.items()
    ]
    title = f"Starting one call: `python -c pass` x{count}, median (bot resident: "
    print_table(f"{title}{resident_mb():.0f} MB)", ["per call"], rows)
    return {OFF: medians[SUBREAPER], **{way: medians[f"bubblewrap, {way}"] for way in WAYS}}


@dataclasses.dataclass
class Side:
    """The runs of one configuration of the example, in round order."""

    walls: list[float] = dataclasses.field(default_factory=list)
    subs: list[float] = dataclasses.field(default_factory=list)
    started: list[int] = dataclasses.field(default_factory=list)  # subprocesses per run

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def overhead(self) -> float:
        """Wall time ÷ subprocess time: the bot's own share."""
        return self.wall / statistics.median(self.subs)

    def over(self, other: Side) -> str:
        """This side's wall time ÷ ``other``'s: of the medians, and the median per round."""
        rounds = statistics.median(a / b for a, b in zip(self.walls, other.walls, strict=True))
        return f"{self.wall / other.wall:.3f} (per round {rounds:.3f})"


def bench_example(request: Request, rounds: int, adaptive: bool) -> Side:
    """Print table 2; return the unsandboxed side."""
    sides = {name: Side() for name in (OFF, BEFORE, AFTER)}
    order = list(sides)
    fixed = functools.partial(performance.check, stop_early=False)
    timing = (
        contextlib.nullcontext() if adaptive else mock.patch.object(performance, "check", fixed)
    )
    index = 0
    with timing:
        for round_ in range(rounds):
            for name in order[round_ % 3 :] + order[: round_ % 3]:  # each goes first in turn
                chosen = dataclasses.replace(
                    request, sandbox=name != OFF, output_dir=request.output_dir / f"run-{index}"
                )
                index += 1
                with spawning(name):
                    began = time.perf_counter()
                    result = run(chosen, Progress())
                    sides[name].walls.append(time.perf_counter() - began)
                sides[name].subs.append(sum(result.subprocess_seconds.values()))
                sides[name].started.append(sandbox.CLOCK.started)
    off = sides[OFF]
    both = [sides[way] for way in WAYS]
    rows = [
        ("unsandboxed wall (shared by both columns)", *[f"{off.wall:.1f} s"] * 2),
        ("unsandboxed runs", *[_list(off.walls)] * 2),
        ("sandboxed wall", *(f"{side.wall:.1f} s" for side in both)),
        ("sandboxed runs", *(_list(side.walls) for side in both)),
        (
            "wall / subprocess, un- | sandboxed (goal <= 1.05)",
            *(f"{off.overhead:.3f} | {side.overhead:.3f}" for side in both),
        ),
        ("sandboxed / unsandboxed wall (goal <= 1.10)", *(side.over(off) for side in both)),
    ]
    targets = ", ".join(str(t) for t in request.targets)
    how = "adaptive (futility look on)" if adaptive else "fixed rounds (futility look off)"
    title = f"Example run, median of {rounds} each, alternating; timing {how}\n({targets})"
    print_table(title, WAYS, rows)
    return off


def bench_estimate(per_call: dict[str, float], off: Side) -> None:
    """Table 3: what starting the example's subprocesses costs more sandboxed, from table 1:
    less swayed by the machine's load than the runs themselves."""
    started = statistics.median(off.started)
    extra = {way: (per_call[way] - per_call[OFF]) for way in WAYS}
    per_run = {way: extra[way] * started / 1000 for way in WAYS}  # seconds
    rows = [
        ("subprocesses started per run", *[f"{started:.0f}"] * 2),
        ("bubblewrap - subreaper, per call", *(f"{extra[way]:+.1f} ms" for way in WAYS)),
        (
            "per run, and its share of the unsandboxed wall",
            *(f"{per_run[way]:+.2f} s ({per_run[way] / off.wall:+.1%})" for way in WAYS),
        ),
    ]
    print_table("Start-up cost of the sandbox per example run (table 1 x calls)", WAYS, rows)


def bench_paired(request: Request) -> None:
    """Table 4: one run in which every subprocess call and performance-gate check is
    made both ways back to back (see the module's doc), side by side."""
    seconds: dict[bool, dict[str, float]] = {True: {}, False: {}}
    flips: dict[str, Iterator[int]] = collections.defaultdict(itertools.count)
    single = sandbox.run
    check = performance.check

    def both(kind: str, once: Callable[[bool], Any], warm: bool = True) -> Any:
        """``once`` both ways: after a warm-up call (a cache the first call fills would
        favour the second) ABBA, or, for the long gate whose processes share nothing, AB
        or BA; the order alternates per kind, as a run's calls come in a fixed pattern."""
        kept = None
        order = (True, False) if next(flips[kind]) % 2 else (False, True)
        if warm:
            once(True)
        for confined in (*order, *reversed(order)) if warm else order:
            began = time.perf_counter()
            result = once(confined)
            took = time.perf_counter() - began
            seconds[confined][kind] = seconds[confined].get(kind, 0.0) + took
            kept = result if confined else kept
        return kept

    def paired_run(
        argv: Any, cwd: Path, *, kind: str, request: Request | None = None, **kw: Any
    ) -> Any:
        if request is None:  # the strictest policy: cannot be turned off, so not paired
            return single(argv, cwd, kind=kind, **kw)

        def once(confined: bool) -> Any:
            chosen = dataclasses.replace(request, sandbox=confined)
            return single(argv, cwd, kind=kind, request=chosen, **kw)

        return both(kind, once)

    def paired_check(ctx: GateContext, *_args: Any, **_kw: Any) -> Verdict:
        def once(confined: bool) -> Verdict:
            chosen = dataclasses.replace(ctx.request, sandbox=confined)
            return check(dataclasses.replace(ctx, request=chosen), stop_early=False)

        return cast(Verdict, both("performance gate", once, warm=False))

    with (
        mock.patch.object(sandbox, "run", paired_run),
        mock.patch.object(performance, "check", paired_check),
    ):
        run(dataclasses.replace(request, output_dir=request.output_dir / "paired"), Progress())
    rows = []
    for kind in sorted(seconds[True]):
        on, off = seconds[True][kind], seconds[False][kind]
        rows.append((kind, f"{on:.2f} s", f"{off:.2f} s", f"{on / off:.3f}"))
    on, off = sum(seconds[True].values()), sum(seconds[False].values())
    rows.append(("all (goal <= 1.10)", f"{on:.2f} s", f"{off:.2f} s", f"{on / off:.3f}"))
    columns = [f"sandboxed, {AFTER}", "unsandboxed", "ratio"]
    print_table("Paired: one run's calls made both ways, back to back", columns, rows)


def print_table(title: str, columns: Sequence[str], rows: Sequence[tuple[str, ...]]) -> None:
    width = max(len(row[0]) for row in rows)
    widths = [max(len(c), *(len(row[i + 1]) for row in rows)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print(" " * width + "".join(f"  {c:<{w}}" for c, w in zip(columns, widths, strict=True)))
    print("-" * (width + sum(w + 2 for w in widths)))
    for name, *values in rows:
        print(
            f"{name:<{width}}" + "".join(f"  {v:<{w}}" for v, w in zip(values, widths, strict=True))
        )


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="calls per start-up row")
    parser.add_argument("--rounds", type=int, default=3, help="example runs per configuration")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS), help="FILE:FUNC")
    parser.add_argument("--skip-example", action="store_true", help="only the start-up cost")
    parser.add_argument(
        "--adaptive", action="store_true", help="keep the performance gate's futility look"
    )
    args = parser.parse_args()
    found = probe()
    if not found.available:
        sys.exit(f"no sandbox to measure: {found.reason}")
    if proclimits.prlimit_program() is None:
        sys.exit("prlimit (util-linux) is not installed: only the pre-exec way can be measured")
    with tempfile.TemporaryDirectory(prefix="selfimprove-bench-") as scratch:
        tmp = Path(scratch)
        os.environ["SELFIMPROVE_HOME"] = str(tmp / "home")
        project = make_monorepo(tmp)
        flags = Flags(path=str(project), output_dir=str(tmp / "out"), targets=tuple(args.targets))
        request = build_request(flags)
        off = None
        if not args.skip_example:  # first, so the start-up rows see a bot that made a run
            off = bench_example(request, args.rounds, args.adaptive)
        per_call = bench_start(request, tmp, args.calls)
        if off is not None:
            bench_estimate(per_call, off)
            bench_paired(request)


if __name__ == "__main__":
    main()
