"""What the sandbox costs: one sandboxed call, and the example run with and without it.

    python benchmarks/sandbox.py [--calls N] [--targets FILE:FUNC ...] [--rounds N]

Prints two tables:

1. starting one call: ``python -c pass`` N times, bare (``subprocess.run``), through
   :func:`bot.core.sandbox.run` with the sandbox off (the subreaper) and with it on
   (bubblewrap): milliseconds per call, and the difference to bare;
2. the example (``examples/textstats`` in a temporary monorepo, a fixed set of targets so
   both sides do the same work), run with the sandbox and with ``sandbox=False``,
   alternating, ``--rounds`` times each: wall time, subprocess time, their ratio (the
   bot's own overhead; goal <= 1.05) and sandboxed ÷ unsandboxed wall time (goal <= 1.10).
   The performance gate's timing ("replay") is adaptive (a futility look may stop it
   early), so the same ratio is also shown for everything else, the same work each side.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run_example import make_monorepo, table  # noqa: E402

from bot.config import Flags, build_request  # noqa: E402
from bot.core import proclimits, sandbox  # noqa: E402
from bot.core.request import Request  # noqa: E402
from bot.core.sandbox_probe import probe  # noqa: E402
from bot.flow.progress import Progress  # noqa: E402
from bot.flow.run import run  # noqa: E402

TARGETS = ("src/textstats/tokens.py:is_stopword", "src/textstats/index.py:vocabulary")


def per_call_ms(call: object, count: int) -> float:
    """Mean milliseconds of ``count`` calls of ``call`` (after one warm-up)."""
    assert callable(call)
    call()
    began = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - began) / count * 1000


def bench_start(request: Request, tmp: Path, count: int) -> None:
    argv = [sys.executable, "-c", "pass"]

    def bare() -> None:
        subprocess.run(argv, cwd=tmp, check=True)

    def through(confined: bool) -> object:
        chosen = dataclasses.replace(request, sandbox=confined)

        def call() -> None:
            done = sandbox.run(argv, tmp, timeout=60, kind="bench", request=chosen)
            assert done.ok, done.stderr

        return call

    base = per_call_ms(bare, count)
    rows = [("bare subprocess.run", f"{base:7.1f} ms")]
    for name, confined in (("sandbox off (subreaper)", False), ("bubblewrap", True)):
        ms = per_call_ms(through(confined), count)
        rows.append((name, f"{ms:7.1f} ms  (+{ms - base:.1f} ms)"))
    if proclimits.pids_root() is not None:  # root: each call also joins a pids cgroup
        with mock.patch.object(proclimits, "pids_root", lambda: None):
            ms = per_call_ms(through(True), count)
        rows.append(("bubblewrap, no pids cgroup", f"{ms:7.1f} ms  (+{ms - base:.1f} ms)"))
    table(f"Starting one call: `python -c pass` x{count}", rows)


def bench_example(request: Request, rounds: int) -> None:
    walls: dict[bool, list[float]] = {True: [], False: []}
    subs: dict[bool, list[float]] = {True: [], False: []}
    fixed: dict[bool, list[float]] = {True: [], False: []}  # all but the adaptive timing
    for index in range(rounds * 2):
        confined = index % 2 == 0
        chosen = dataclasses.replace(
            request,
            sandbox=confined,
            output_dir=request.output_dir.parent / f"run-{index}",
        )
        began = time.perf_counter()
        result = run(chosen, Progress())
        walls[confined].append(time.perf_counter() - began)
        subs[confined].append(sum(result.subprocess_seconds.values()))
        fixed[confined].append(
            sum(s for kind, s in result.subprocess_seconds.items() if kind != "replay")
        )
    rows = []
    for confined, name in ((True, "bubblewrap"), (False, "sandbox off")):
        wall, sub = statistics.median(walls[confined]), statistics.median(subs[confined])
        rows.append((f"{name}: wall", f"{wall:.1f} s  (runs: {_list(walls[confined])})"))
        rows.append((f"{name}: subprocess time", f"{sub:.1f} s"))
        rows.append((f"{name}: wall / subprocess (goal <= 1.05)", f"{wall / sub:.3f}"))
        rows.append(
            (f"{name}: subprocess time but replay", f"{statistics.median(fixed[confined]):.1f} s")
        )
    ratio = statistics.median(walls[True]) / statistics.median(walls[False])
    rows.append(("sandboxed / unsandboxed wall (goal <= 1.10)", f"{ratio:.3f}"))
    same_work = statistics.median(fixed[True]) / statistics.median(fixed[False])
    rows.append(("sandboxed / unsandboxed, all but replay", f"{same_work:.3f}"))
    targets = ", ".join(str(t) for t in request.targets)
    table(f"Example run, median of {rounds} each ({targets})", rows)


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="calls per start-up row")
    parser.add_argument("--rounds", type=int, default=1, help="example runs per side")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS), help="FILE:FUNC")
    parser.add_argument("--skip-example", action="store_true", help="only the start-up cost")
    args = parser.parse_args()
    found = probe()
    if not found.available:
        sys.exit(f"no sandbox to measure: {found.reason}")
    with tempfile.TemporaryDirectory(prefix="selfimprove-bench-") as scratch:
        tmp = Path(scratch)
        os.environ["SELFIMPROVE_HOME"] = str(tmp / "home")
        project = make_monorepo(tmp)
        flags = Flags(path=str(project), output_dir=str(tmp / "out"), targets=tuple(args.targets))
        request = build_request(flags)
        bench_start(request, tmp, args.calls)
        if not args.skip_example:
            bench_example(request, args.rounds)


if __name__ == "__main__":
    main()
