"""Benchmark the spine on the bundled example and measure the performance gate's honesty.

    python benchmarks/run_example.py [--aa-runs N]

Prints two tables:

1. the example run: total wall time, the sum of the raw subprocess times (test runs,
   replays, ruff/mypy/bandit, import checks), their ratio (the bot's own overhead; goal
   <= 1.05) and how many candidates each gate stopped;
2. an A/A run: a candidate that only adds a comment (same behaviour, same speed) is put
   through the performance gate N times; the share accepted is the gate's false-positive
   rate (goal <= 5 %).

Everything runs in a temporary copy of the example inside a fresh git repository, the
same monorepo layout the README uses.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Flags, build_request  # noqa: E402
from bot.core import sandbox  # noqa: E402
from bot.core.candidate import Candidate  # noqa: E402
from bot.core.diffs import make_diff  # noqa: E402
from bot.core.worktree import Worktrees, apply_diff  # noqa: E402
from bot.characterize import prepare  # noqa: E402
from bot.progress import Progress  # noqa: E402
from bot.run import run  # noqa: E402
from validators import performance  # noqa: E402
from validators.cascade import GATE_NAMES  # noqa: E402
from validators.context import GateContext  # noqa: E402

AA_TARGET = "src/textstats/tokens.py:is_stopword"


def make_monorepo(tmp: Path) -> Path:
    """Copy the example into ``tmp/mono/examples/textstats`` and commit it."""
    repo = tmp / "mono"
    project = repo / "examples" / "textstats"
    shutil.copytree(
        ROOT / "examples" / "textstats",
        project,
        ignore=shutil.ignore_patterns(".*", "__pycache__"),
    )
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return project


def table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}")
    print("-" * (width + 24))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def bench_example(project: Path, out: Path) -> None:
    request = build_request(Flags(path=str(project), output_dir=str(out)))
    began = time.perf_counter()
    result = run(request, Progress())
    wall = time.perf_counter() - began
    raw = sum(result.subprocess_seconds.values())
    stopped = Counter(e.stopped_by.gate for e in result.evaluations if e.stopped_by)
    rows = [
        ("total wall time", f"{wall:.1f} s"),
        ("raw subprocess time", f"{raw:.1f} s"),
        (
            "  by kind",
            ", ".join(f"{k} {v:.1f} s" for k, v in sorted(result.subprocess_seconds.items())),
        ),
        ("wall / subprocess (goal <= 1.05)", f"{wall / raw:.3f}"),
        ("targets", str(len(result.targets))),
        ("candidates", str(len(result.evaluations))),
        ("accepted", str(len(result.accepted))),
    ]
    rows += [(f"stopped by {gate}", str(stopped.get(gate, 0))) for gate in GATE_NAMES]
    for delivered in result.delivered:
        perf = delivered.evaluation.result("performance")
        if perf:
            rows.append((f"  {delivered.evaluation.candidate.target.key}", perf.reason))
    table("Example run (examples/textstats, test-driven, codemods)", rows)


def bench_false_positives(project: Path, runs: int) -> None:
    request = build_request(Flags(path=str(project), targets=(AA_TARGET,)))
    with Worktrees(request.repo_root, request.home, f"bench-aa-{os.getpid()}") as trees:
        base = trees.add("base", request.base_commit)
        baseline, reports = prepare(request, base, trees.root, Progress())
        target = reports[0].target
        repo_path = request.repo_relative(target.file)
        source = (base / repo_path).read_text()
        same = source.replace("def is_stopword", "# an A/A candidate: same code\ndef is_stopword")
        diff = make_diff(repo_path, source, same)
        candidate = Candidate(target, diff, (repo_path,), "a/a", "none", "comment", "A/A")
        root = trees.add("candidate", request.base_commit)
        apply_diff(root, diff)
        context = GateContext(request, candidate, baseline, root)
        accepted = 0
        ratios: list[float] = []
        began = time.perf_counter()
        for _ in range(runs):
            verdict = performance.check(context)
            accepted += verdict.passed
            if "ratio" in verdict.details:
                ratios.append(float(verdict.details["ratio"]))
        seconds = time.perf_counter() - began
    ratios.sort()
    rows = [
        ("A/A runs", str(runs)),
        ("accepted (false positives)", str(accepted)),
        ("false-positive rate (goal <= 5%)", f"{100 * accepted / runs:.1f} %"),
        ("median ratio seen", f"{ratios[len(ratios) // 2]:.3f}" if ratios else "-"),
        ("ratio range seen", f"{ratios[0]:.3f} - {ratios[-1]:.3f}" if ratios else "-"),
        ("gate time per run", f"{seconds / runs:.1f} s"),
    ]
    table(f"Performance gate A/A ({AA_TARGET}, comment-only candidate)", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa-runs", type=int, default=40, help="A/A repetitions (default 40)")
    parser.add_argument("--skip-example", action="store_true", help="only run the A/A part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="selfimprove-bench-") as scratch:
        tmp = Path(scratch)
        os.environ["SELFIMPROVE_HOME"] = str(tmp / "home")
        project = make_monorepo(tmp)
        if not args.skip_example:
            bench_example(project, tmp / "out")
        sandbox.CLOCK.reset()
        bench_false_positives(project, args.aa_runs)


if __name__ == "__main__":
    main()
