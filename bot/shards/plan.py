"""Scale-out (issue #4): split a run's targets into shards of similar expected time.

``selfimprove plan`` profiles the base once, chooses the targets exactly as a run would,
estimates what each one will cost and deals them out longest first to the least loaded
shard. The result is a GitHub Actions matrix, ``{"include": [{"shard": "1/3", "targets":
[...], "estimated_seconds": ...}, ...]}``.

A shard job runs ``selfimprove run --plan plan.json --shard i/n``: it reads its targets
from the plan instead of profiling and ranking again, because another machine's profile
may rank differently and two shards would then share or miss targets. The plan file is
the one source of the split.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.candidate import Target
from bot.core.errors import UserError
from bot.core.request import Request
from bot.flow.characterize import profile_targets
from bot.flow.progress import Progress
from bot.flow.session import Session
from methods.codemod_generator import rewrites
from validators.perftiming import AB_PROCESSES

# The gates other than unit and performance (compile, ruff, bandit, mypy, imports):
# a rough constant per candidate, enough to weigh targets against each other.
TOOL_SECONDS = 3.0
# Each captured call is replayed a few times outside the timed samples (checks, warm-up).
REPLAYS_PER_CALL = 8


@dataclass(frozen=True)
class Estimate:
    """What one target is expected to cost a run, and the facts the guess is made of."""

    target: Target
    candidates: int
    captured_calls: int
    timed_targets: int
    seconds: float

    @property
    def spec(self) -> str:
        """The target as ``--target`` takes it: project-relative file and qualname."""
        return f"{self.target.file}:{self.target.qualname}"


@dataclass(frozen=True)
class Shard:
    """One job of the fan-out: its place (``index`` of ``count``) and its targets."""

    index: int
    count: int
    targets: tuple[str, ...]
    seconds: float

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class Plan:
    """The shards of one plan, in order."""

    shards: tuple[Shard, ...]

    def matrix(self) -> dict[str, list[dict[str, Any]]]:
        """The GitHub Actions matrix: one ``include`` entry per shard."""
        return {
            "include": [
                {
                    "shard": s.label,
                    "targets": list(s.targets),
                    "estimated_seconds": round(s.seconds, 1),
                }
                for s in self.shards
            ]
        }

    def shard(self, label: str) -> Shard:
        """The shard ``i/n`` names; ``n`` must be this plan's shard count."""
        index, count = parse_shard(label)
        if count != len(self.shards):
            raise UserError(
                f"--shard {label} does not fit the plan: it has {len(self.shards)} shard(s)"
            )
        return self.shards[index - 1]


def parse_shard(text: str) -> tuple[int, int]:
    """``i/n`` with 1 <= i <= n, as two integers."""
    index_text, slash, count_text = text.strip().partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        index = count = 0
    if not slash or count < 1 or not 1 <= index <= count:
        raise UserError(f"--shard must be i/n with 1 <= i <= n (like 2/3), not {text!r}")
    return index, count


def estimate(
    request: Request,
    target: Target,
    candidates: int,
    suite_seconds: float,
    profile_row: Mapping[str, Any],
    timed_targets: int,
) -> Estimate:
    """Expected seconds for ``target``: candidates x (one cascade + one performance gate).

    ``candidates`` counts the codemod and ruff rewrites the offline generator would offer,
    all but memoise, which needs the captured calls a plan does not make.

    Each candidate runs the suite once (unit gate), the static tools, and a performance
    gate that times the target and the other targets calling it, ``rounds`` pairs in each
    of a few processes, plus a few replays of every captured call. At least one candidate
    is assumed, since a model generator may propose where the codemods do not.
    """
    calls = int(profile_row.get("calls", 0))
    per_call = float(profile_row.get("cumulative_seconds", 0.0)) / calls if calls else 0.0
    captured = min(calls, request.limits.max_captured_calls)
    thresholds = request.thresholds
    timing = timed_targets * AB_PROCESSES * thresholds.rounds * 2 * thresholds.sample_seconds
    per_candidate = suite_seconds + TOOL_SECONDS + timing + captured * per_call * REPLAYS_PER_CALL
    seconds = max(1, candidates) * per_candidate
    return Estimate(target, candidates, captured, timed_targets, seconds)


def split(estimates: Sequence[Estimate], shards: int) -> Plan:
    """Longest first, each to the least loaded shard (lowest index on a tie): deterministic.

    There are never more shards than targets, and always at least one (possibly empty),
    so the matrix is never empty and no shard job runs without targets it was given.
    """
    if shards < 1:
        raise UserError(f"--shards must be at least 1, not {shards}")
    count = max(1, min(shards, len(estimates)))
    loads = [0.0] * count
    members: list[list[Estimate]] = [[] for _ in range(count)]
    for item in sorted(estimates, key=lambda e: (-e.seconds, e.spec)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        loads[lightest] += item.seconds
        members[lightest].append(item)
    return Plan(
        tuple(
            Shard(i + 1, count, tuple(e.spec for e in group), loads[i])
            for i, group in enumerate(members)
        )
    )


def make_plan(request: Request, shards: int, progress: Progress) -> tuple[Plan, list[Estimate]]:
    """Profile the base in a worktree, choose targets as a run would, estimate and split."""
    if shards < 1:
        raise UserError(f"--shards must be at least 1, not {shards}")
    run_id = f"plan-{request.output_dir.name}"
    with Session(request, progress, run_id) as session:
        profiled, targets = profile_targets(request, session.base_root, progress)
        project_dir = request.project_path(session.base_root)
        rows = {f"{r['module']}:{r['qualname']}": r for r in profiled.profile}
        keys = {t.key for t in targets}
        estimates = []
        for target in targets:
            source = (project_dir / target.file).read_text()
            estimates.append(
                estimate(
                    request,
                    target,
                    len({new for _, _, new, _ in rewrites(request, target, source)}),
                    profiled.completed.seconds,
                    rows.get(target.key, {}),
                    _timed_targets(target.key, keys, rows),
                )
            )
    plan = split(estimates, shards)
    progress.stage("planning", f"{len(targets)} target(s) in {len(plan.shards)} shard(s)")
    return plan, estimates


def _timed_targets(key: str, keys: set[str], rows: Mapping[str, Mapping[str, Any]]) -> int:
    """The target plus the other targets its performance gate checks: those that call it.

    Mirrors ``Baseline.affected_targets``: without a call graph every other target counts.
    """
    if key not in rows:
        return len(keys)
    callers = set(rows[key].get("callers", ()))
    return 1 + len((keys - {key}) & callers)


def shard_targets(plan: str | None, shard: str | None, targets: Sequence[str]) -> tuple[str, ...]:
    """What ``run --plan FILE --shard i/n`` improves: the plan's shard, never a new ranking."""
    if not (plan and shard):
        raise UserError("--plan and --shard go together: --plan FILE --shard i/n")
    if targets:
        raise UserError("--target cannot be combined with --plan: the plan names the targets")
    parse_shard(shard)
    return read_plan(plan).shard(shard).targets


def read_plan(path: str) -> Plan:
    """A plan written by ``selfimprove plan`` (a file, or ``-`` for stdin), checked."""
    try:
        text = Path(path).expanduser().read_text() if path != "-" else sys.stdin.read()
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the plan {path}: {exc}") from None
    entries = data.get("include") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise UserError(f"{path} is not a plan: no shards under 'include'")
    shards = []
    for number, entry in enumerate(entries, 1):
        try:
            index, count = parse_shard(str(entry["shard"]))
            targets = tuple(str(t) for t in entry["targets"])
        except (KeyError, TypeError, UserError):
            raise UserError(f"shard {number} of the plan {path} is malformed") from None
        if (index, count) != (number, len(entries)):
            raise UserError(f"shard {number} of the plan {path} is labelled {entry['shard']}")
        shards.append(Shard(index, count, targets, float(entry.get("estimated_seconds", 0.0))))
    return Plan(tuple(shards))
