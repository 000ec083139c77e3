"""The base side of a run: profile the suite, choose targets, and pin their behaviour.

The suite runs twice on the base worktree, both times in a subprocess with the harness
plugin: once under cProfile (which functions are hot, which tests pass), once recording
the calls to the chosen targets. Only tests that passed both times are expected to pass
on a candidate; a red baseline stops the run, since nothing can be proven on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from bot.core.baseline import Baseline
from bot.core.candidate import Target
from bot.core.errors import UserError
from bot.core.request import Request
from bot.core.testrun import SuiteRun, run_suite
from bot.flow.progress import Progress
from bot.flow.targets import rank_profiled, resolve_specs
from bot.report.results import TargetReport

SPARE_TARGETS = 5  # hottest functions captured beyond max_targets, see _prefer_recorded


def check_green(request: Request, run: SuiteRun) -> None:
    """Refuse a base commit whose suite does not pass (or does not run at all)."""
    command = " ".join(request.test_command)
    if run.completed.timed_out:
        raise UserError(
            f"the test suite did not finish within {request.limits.test_timeout:g}s "
            "on the base commit"
        )
    if run.exitstatus == 5 or (run.exitstatus == 0 and not run.outcomes):
        raise UserError(f"no tests were collected by {command!r} in {request.project}")
    if run.failed or run.exitstatus != 0:
        first = sorted(run.failed)[0] if run.failed else run.completed.tail(1)
        count = len(run.failed)
        raise UserError(
            f"the test suite fails on the base commit ({count} failed, first: {first}): "
            "nothing can be proven on a red baseline"
        )


def profile_targets(
    request: Request, base_root: Path, progress: Progress, spares: int = 0
) -> tuple[SuiteRun, list[Target]]:
    """Profile the base suite (it must be green) and choose the targets: named or hottest
    (with ``spares`` more, see ``rank_profiled``).

    ``selfimprove plan`` calls this too, so a plan splits exactly the targets a run would take.
    """
    project_dir = request.project_path(base_root)
    progress.stage("profiling", f"running {' '.join(request.test_command)} under cProfile")
    profiled = run_suite(request, base_root, profile=True)
    check_green(request, profiled)
    progress.stage(
        "profiling",
        f"{len(profiled.passed)} tests pass on the base in {profiled.completed.seconds:.1f}s",
    )
    if request.targets:
        return profiled, resolve_specs(request, project_dir, profiled.import_roots)
    return profiled, rank_profiled(
        request, project_dir, profiled.profile, profiled.completed.seconds, spares
    )


def prepare(
    request: Request, base_root: Path, scratch: Path, progress: Progress
) -> tuple[Baseline, list[TargetReport]]:
    """Run the base suite, pick targets and capture their calls; return the run's Baseline."""
    profiled, targets = profile_targets(request, base_root, progress, SPARE_TARGETS)
    baseline = Baseline(
        root=base_root,
        work_dir=request.home / "cache",
        test_outcomes=dict(profiled.outcomes),
        import_roots=profiled.import_roots,
        targets=tuple(targets),
        callers={
            f"{row['module']}:{row['qualname']}": tuple(row.get("callers", ()))
            for row in profiled.profile
        },
    )
    if not targets:
        progress.note("no function of the project ran during the test suite")
        return baseline, []
    progress.stage("capturing", f"recording calls to {len(targets)} target(s) while the suite runs")
    captured = run_suite(request, base_root, capture=targets)
    targets = _drop_uncapturable(request, targets, captured.errors, progress)
    targets = _prefer_recorded(request, targets, captured.captures, progress)
    baseline.targets = tuple(targets)
    flaky = sorted(profiled.passed - captured.passed)
    if flaky:
        progress.note(f"{len(flaky)} test(s) passed once and failed once on the base: {flaky[0]}")
        for test in flaky:
            baseline.test_outcomes[test] = "flaky"
    capture_file = scratch / "captures.json"
    capture_file.write_text(json.dumps(captured.captures))
    baseline.capture_file = capture_file
    reports = []
    for target in targets:
        record = captured.captures.get(target.key, {})
        calls = len(record.get("calls", ()))
        baseline.captured_calls[target.key] = calls
        baseline.sampled_calls[target.key] = int(record.get("sampled", calls))
        if record.get("tests") is not None:
            baseline.tests_calling[target.key] = tuple(record["tests"])
        kind = baseline.target_kinds[target.key] = str(record.get("kind", "plain"))
        reports.append(TargetReport(target, calls, int(record.get("seen", 0)), kind))
    return baseline, reports


def _drop_uncapturable(
    request: Request, targets: list[Target], errors: Sequence[str], progress: Progress
) -> list[Target]:
    """The targets whose calls could be recorded; the others are dropped with the reason.

    A target the user named, or an error that is not about one target (an installed copy
    shadowing the checkout), stops the run: what was asked for cannot be done.
    """
    named = bool(request.targets)
    dropped: set[str] = set()
    for error in errors:
        about = [t for t in targets if _names(error, t.key)]
        if named or not about:
            raise UserError(f"cannot record calls: {error}")
        for target in about:
            dropped.add(target.key)
            progress.note(f"{target.key} left out: its calls cannot be recorded ({error})")
    return [t for t in targets if t.key not in dropped]


def _prefer_recorded(
    request: Request,
    targets: list[Target],
    captures: dict[str, dict[str, object]],
    progress: Progress,
) -> list[Target]:
    """``max_targets`` of ``targets``, hottest first, a spare standing in for each target the
    suite ran but no call of which could be recorded (nothing can be proven on it)."""
    limit = request.limits.max_targets
    if request.targets:
        return targets
    recorded = [t for t in targets if captures.get(t.key, {}).get("calls")]
    unrecorded = [t for t in targets if t not in recorded]
    chosen = {t.key for t in recorded[:limit] + unrecorded[: max(0, limit - len(recorded))]}
    kept = [t for t in targets if t.key in chosen]
    for target in targets[:limit]:
        if target not in kept:
            progress.note(f"{target.key} left out: none of its calls could be recorded")
    return kept


def _names(error: str, key: str) -> bool:
    """True when ``error`` is about ``key`` itself (``m:f``, not ``m:foo``)."""
    return re.search(rf"(?<![\w.:]){re.escape(key)}(?![\w.])", error) is not None
