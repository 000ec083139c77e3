"""Benchmark the spine on the bundled example and measure the performance gate's honesty.

    python benchmarks/run_example.py [--aa-runs N] [--power-runs N] [--skip-example]

Prints three tables:

1. the example run: total wall time, the sum of the raw subprocess times (test runs,
   replays, ruff/mypy/bandit, import checks), their ratio (the bot's own overhead; goal
   <= 1.05) and how many candidates each gate stopped;
2. an A/A run: a candidate that only adds a comment (same behaviour, same speed) is put
   through the performance gate N times with each timing method (runs alternate between
   the methods); the share accepted is the gate's false-positive rate (goal <= 5 %);
3. power: known-good small gains (codemod rewrites of the example) put through the gate
   N times with each timing method; the share accepted is the gate's power there.

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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Flags, build_request  # noqa: E402
from bot.core import sandbox  # noqa: E402
from bot.core.baseline import Baseline  # noqa: E402
from bot.core.candidate import Candidate, Target  # noqa: E402
from bot.core.diffs import make_diff  # noqa: E402
from bot.core.request import Request  # noqa: E402
from bot.core.worktree import Worktrees, apply_diff  # noqa: E402
from bot.flow.characterize import prepare  # noqa: E402
from bot.flow.progress import Progress  # noqa: E402
from bot.flow.run import run  # noqa: E402
from methods.codemods import rewrites_for  # noqa: E402
from validators import performance  # noqa: E402
from validators.cascade import GATE_NAMES  # noqa: E402
from validators.context import GateContext, Verdict  # noqa: E402

AA_TARGET = "src/textstats/tokens.py:is_stopword"
METHODS: tuple[performance.Timing, ...] = (performance.FRESH_PAIRS, performance.IN_PROCESS)
# (target, codemod rule): small real gains; summarize calls both, so it is checked too
POWER_CASES = (
    ("src/textstats/report.py:render_table", "string-join"),
    ("src/textstats/index.py:word_positions", "dict-comprehension"),
)
POWER_EXTRA_TARGET = "src/textstats/summary.py:summarize"


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


@dataclass
class Tally:
    """Gate verdicts on one candidate with one timing method."""

    verdicts: list[Verdict] = field(default_factory=list)
    seconds: float = 0.0

    def run(self, context: GateContext, method: performance.Timing) -> None:
        began = time.perf_counter()
        self.verdicts.append(performance.check(context, timing=method))
        self.seconds += time.perf_counter() - began

    def ratios(self, name: str = "ratio") -> list[float]:
        return sorted(float(v.details[name]) for v in self.verdicts if name in v.details)

    def row(self) -> str:
        runs = len(self.verdicts)
        accepted = sum(v.passed for v in self.verdicts)
        ratios, lows = self.ratios(), self.ratios("ci_low")
        fell_back = sum(v.details.get("timing_method") == "fresh-pairs" for v in self.verdicts)
        spread = f"{ratios[0]:.3f}-{ratios[-1]:.3f}" if ratios else "-"
        return (
            f"{accepted:>2}/{runs} accepted ({100 * accepted / max(runs, 1):5.1f} %)  "
            f"ratio median {_median(ratios)} range {spread}  CI low median {_median(lows)}  "
            f"{self.seconds / max(runs, 1):.1f} s/run  fresh-pair timings {fell_back}"
        )


def _median(values: list[float]) -> str:
    return f"{values[len(values) // 2]:.3f}" if values else "-"


def _candidate(
    request: Request, trees: Worktrees, baseline: Baseline, target: Target, new: str, rule: str
) -> GateContext:
    """A candidate worktree that rewrites ``target``'s file to ``new_source``."""
    repo_path = request.repo_relative(target.file)
    source = (baseline.root / repo_path).read_text()
    diff = make_diff(repo_path, source, new)
    candidate = Candidate(target, diff, (repo_path,), "bench", "codemod", rule, rule)
    root = trees.add(f"candidate-{rule}", request.base_commit)
    apply_diff(root, diff)
    return GateContext(request, candidate, baseline, root)


def bench_false_positives(project: Path, runs: int) -> None:
    request = build_request(Flags(path=str(project), targets=(AA_TARGET,)))
    with Worktrees(request.repo_root, request.home, f"bench-aa-{os.getpid()}") as trees:
        base = trees.add("base", request.base_commit)
        baseline, reports = prepare(request, base, trees.root, Progress())
        target = reports[0].target
        source = (base / request.repo_relative(target.file)).read_text()
        same = source.replace("def is_stopword", "# an A/A candidate: same code\ndef is_stopword")
        context = _candidate(request, trees, baseline, target, same, "a-a")
        tallies = {method: Tally() for method in METHODS}
        for index in range(runs * len(METHODS)):  # alternate, so drift hits both alike
            method = METHODS[index % len(METHODS)]
            tallies[method].run(context, method)
    rows = [(f"{method} (goal <= 5 %)", tally.row()) for method, tally in tallies.items()]
    table(f"Performance gate A/A ({AA_TARGET}, comment-only candidate, {runs} runs each)", rows)


def bench_power(project: Path, runs: int) -> None:
    specs = (*(target for target, _ in POWER_CASES), POWER_EXTRA_TARGET)
    request = build_request(Flags(path=str(project), targets=specs))
    rows: list[tuple[str, str]] = []
    with Worktrees(request.repo_root, request.home, f"bench-power-{os.getpid()}") as trees:
        base = trees.add("base", request.base_commit)
        baseline, reports = prepare(request, base, trees.root, Progress())
        by_spec = {f"{r.target.file}:{r.target.qualname}": r.target for r in reports}
        for spec, rule in POWER_CASES:
            target = by_spec[spec]
            source = (base / request.repo_relative(target.file)).read_text()
            rewrite = next(r for r in rewrites_for(source, target.qualname) if r.rule == rule)
            context = _candidate(request, trees, baseline, target, rewrite.source, rule)
            tallies = {method: Tally() for method in METHODS}
            for index in range(runs * len(METHODS)):
                method = METHODS[index % len(METHODS)]
                tallies[method].run(context, method)
            others = ", ".join(baseline.affected_targets(target.key)) or "none"
            rows.append((f"{rule} on {target.key}", f"(also checked: {others})"))
            rows += [(f"  {method}", tally.row()) for method, tally in tallies.items()]
    table(f"Performance gate power (known small gains, {runs} runs each)", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa-runs", type=int, default=40, help="A/A repetitions (default 40)")
    parser.add_argument("--power-runs", type=int, default=10, help="power repetitions (default 10)")
    parser.add_argument("--skip-example", action="store_true", help="only the gate benchmarks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="selfimprove-bench-") as scratch:
        tmp = Path(scratch)
        os.environ["SELFIMPROVE_HOME"] = str(tmp / "home")
        project = make_monorepo(tmp)
        if not args.skip_example:
            bench_example(project, tmp / "out")
        sandbox.CLOCK.reset()
        if args.aa_runs > 0:
            bench_false_positives(project, args.aa_runs)
        if args.power_runs > 0:
            bench_power(project, args.power_runs)


if __name__ == "__main__":
    main()
