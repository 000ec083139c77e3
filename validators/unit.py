"""Gate 5: every test that passed on the base passes on the candidate, and so do its own.

A test that fails is run again on its own: if it then passes it is flaky (reported, not
counted as a break); if it fails again the candidate broke it. Tests the candidate adds
(a chaos regression test, a model's new test) must pass too: a red test never ships.
"""

from __future__ import annotations

from bot.core.testrun import SuiteRun, run_suite
from validators.context import GateContext, Verdict, failed, passed

NAME = "unit"
RERUNS = 2


def check(ctx: GateContext) -> Verdict:
    expected = ctx.baseline.passed_tests
    run = run_suite(ctx.request, ctx.candidate_root)
    if run.completed.timed_out:
        return failed(f"the test suite did not finish within {ctx.request.limits.test_timeout:g}s")
    missing = sorted(t for t in expected if t not in run.outcomes)
    if not run.outcomes and run.exitstatus != 0:
        return failed(f"the test suite did not run (exit {run.exitstatus}): {_last_line(run)}")
    suspects = sorted(t for t in expected if run.outcomes.get(t) == "failed")
    added = [t for t in run.outcomes if t not in ctx.baseline.test_outcomes]
    suspects += sorted(t for t in added if run.outcomes[t] == "failed")
    broken, flaky = _rerun(ctx, suspects)
    if broken:
        more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
        new = " (a test the candidate adds)" if broken[0] in added else ""
        return failed(f"{broken[0]}{new} fails on the candidate{more}", broken=broken, flaky=flaky)
    if missing:
        return failed(f"{missing[0]} passed on the base but did not run", missing=missing)
    note = f"; flaky (failed once, then passed): {', '.join(flaky)}" if flaky else ""
    own = f", and the {len(added)} it adds" if added else ""
    return passed(f"{len(expected)} tests that pass on the base pass{own}{note}", flaky=flaky)


def _rerun(ctx: GateContext, suspects: list[str]) -> tuple[list[str], list[str]]:
    """Split failing tests into broken (fail again) and flaky (pass on every re-run)."""
    if not suspects:
        return [], []
    still_failing = set(suspects)
    for _ in range(RERUNS):
        again = run_suite(ctx.request, ctx.candidate_root, only=sorted(still_failing))
        still_failing = {t for t in still_failing if again.outcomes.get(t) != "passed"}
        if not still_failing:
            break
    broken = sorted(still_failing)
    return broken, sorted(set(suspects) - still_failing)


def _last_line(run: SuiteRun) -> str:
    return run.completed.tail(1) or "no output"
