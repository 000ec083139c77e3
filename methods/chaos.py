"""Chaos: find what the test suite does not defend, then defend it.

For a target, small deliberate bugs (mutants, :mod:`methods.mutations`) are each checked
out in a scratch worktree and the suite is run against them; a mutant that no test
notices (a survivor) marks behaviour the suite leaves open. For each survivor the captured
inputs, and simple neighbours of them, are searched inside the target's interpreter for
one where the base and the mutant disagree (:mod:`methods.mutant_inputs`); failing that, a
captured input too long for a test on which they disagree is shrunk to a short one. The
base's answer on it becomes a regression test (:mod:`methods.regression_tests`); a method
is called on a receiver rebuilt the way the suite built it. A survivor nothing tells apart
gets a second look: did its line run on the recorded calls at all (else: an untested path)?
A test is kept only if it fails on its mutant and passes on the base every time it is run,
so a flaky test never ships. The kept tests form one new test file per target: a candidate
proven by the gates like any other, with the mutation score before and after in its
provenance.

Before any of that, a sentinel mutant (the function raises at entry) must be killed;
if the suite still passes with it, the setup cannot tell a mutant from the original (an
installed copy imported instead of the checkout, say) and every survivor would be a lie.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff, new_file_diff
from bot.core.evaluation import Evaluation
from bot.core.method import MethodContext
from bot.core.testrun import run_suite
from methods import line_profile, mutant_inputs, mutations, regression_tests
from methods.regression_tests import Case

NAME = "chaos"
SEARCH = "mutation-search"  # its own: survivors become tests; the run's generator is unused
GENERATOR: str | None = SEARCH
RULE = "regression-tests"
BASE_RUNS = 3  # a new test must pass on the base every time: flaky tests never ship
MUTANT_RUNS = 2  # ... and fail on its mutant every time
_SUITE_SECONDS = ("chaos", "suite-seconds")

Checkout = Callable[[str], AbstractContextManager[Path]]


@dataclass(frozen=True)
class Score:
    """Mutants killed out of all tried (the sentinel does not count)."""

    killed: int
    total: int

    def __str__(self) -> str:
        return f"{self.killed}/{self.total}"


@dataclass(frozen=True)
class Survivor:
    """A mutant the suite did not kill, and the new test that kills it (if one was found)."""

    index: int
    mutant: mutations.Mutant
    killed_by: str | None
    why_not: str = ""


def run(ctx: MethodContext, target: Target) -> list[Evaluation]:
    """At most one candidate for ``target``: a new test file that kills surviving mutants."""
    problem = _unsuitable(ctx, target)
    if problem:
        ctx.note(f"{target.key}: {problem}")
        return []
    assert ctx.checkout is not None
    source = ctx.base_source(target.file)
    try:
        found = mutations.mutants(source, target.qualname, ctx.request.limits.max_mutants)
        guard = mutations.sentinel(source, target.qualname)
    except mutations.MutationError as exc:
        ctx.note(f"{target.key}: cannot mutate: {exc}")
        return []
    if not found:
        ctx.note(f"{target.key}: no mutation operator applies to the function")
        return []
    timeout = _mutant_timeout(ctx)
    blind = _blind_to(ctx, ctx.checkout, target, guard, timeout)
    if blind:
        ctx.note(f"{target.key}: the setup cannot tell a mutant from the original: {blind}")
        return []
    ctx.note(f"{target.key}: running the suite against {len(found)} mutant(s)")
    test_path = regression_tests.new_test_path(ctx.request, ctx.baseline, target)
    survivors, cases = _survivors(ctx, ctx.checkout, target, found, test_path, timeout)
    before = Score(len(found) - len(survivors), len(found))
    for survivor in survivors:
        if survivor.killed_by is None:
            ctx.note(f"{target.key}: survivor {survivor.mutant.label}: {survivor.why_not}")
    if not survivors:
        ctx.note(f"{target.key}: mutation score {before}: the suite kills every mutant")
        return []
    cases, diff = _passing_on_base(ctx, ctx.checkout, target, test_path, cases, timeout)
    after = Score(before.killed + sum(len(c.mutants) for c in cases), before.total)
    ctx.note(f"{target.key}: mutation score {before} -> {after} with {len(cases)} new test(s)")
    if not cases:
        return []
    return [ctx.evaluate(_candidate(ctx, target, test_path, cases, diff, (before, after)))]


def _unsuitable(ctx: MethodContext, target: Target) -> str | None:
    if ctx.baseline.captured_calls.get(target.key, 0) == 0:
        return "no calls recorded while the suite ran, so there are no inputs to pin"
    if ctx.checkout is None:
        return "no scratch worktrees to run mutants in"
    return None


def _blind_to(
    ctx: MethodContext,
    checkout: Checkout,
    target: Target,
    guard: mutations.Mutant,
    timeout: float,
) -> str | None:
    """Why the suite cannot see mutants at all (it passes with the sentinel), or None."""
    with checkout(_mutant_diff(ctx, target, guard)) as root:
        if _suite_kills(ctx, root, target, timeout):
            return None
    return (
        f"the suite still passes when {target.qualname} raises at entry (does it import "
        "an installed copy instead of the checkout, or swallow the error?)"
    )


def _mutant_diff(ctx: MethodContext, target: Target, mutant: mutations.Mutant) -> str:
    path = ctx.request.repo_relative(target.file)
    return make_diff(path, ctx.base_source(target.file), mutant.source)


def _mutant_timeout(ctx: MethodContext) -> float:
    """How long the suite may run on a mutant: a few times the base's time (then: killed).

    A mutant that turns a loop infinite must not cost the whole test timeout; the base
    suite is timed once per run for this.
    """
    seconds = ctx.baseline.cache.get(_SUITE_SECONDS)
    if not isinstance(seconds, float):
        seconds = run_suite(ctx.request, ctx.baseline.root).completed.seconds
        ctx.baseline.cache[_SUITE_SECONDS] = seconds
    return min(ctx.request.limits.test_timeout, max(10.0, 3 * seconds + 5))


def _suite_kills(ctx: MethodContext, root: Path, target: Target, timeout: float) -> bool:
    """Whether the suite notices that the checkout at ``root`` differs from the base.

    Only the tests that called the target while the suite was captured run, when capture
    knows them: a mutant changes the target's body alone, so no other test can notice it
    (a target also called outside any test, at import say, gets the whole suite). A timeout
    counts as noticed (the mutant made a loop endless, say); so does a test that passed on
    the base and now fails or does not run.
    """
    watching = ctx.baseline.tests_calling.get(target.key)
    expected = ctx.baseline.passed_tests
    if watching is not None:
        expected = expected & frozenset(watching)
        if not expected:
            return False  # no passing test calls it: none can notice
    # --exitfirst: the first failing test is enough, and most mutants fail early.
    select = sorted(expected) if watching is not None else ()
    suite = run_suite(ctx.request, root, only=["--exitfirst"], select=select, timeout=timeout)
    if suite.completed.timed_out:
        return True
    return any(suite.outcomes.get(t) != "passed" for t in expected)


def _survivors(
    ctx: MethodContext,
    checkout: Checkout,
    target: Target,
    found: Sequence[mutations.Mutant],
    test_path: str,
    timeout: float,
) -> tuple[list[Survivor], list[Case]]:
    """The mutants the suite does not kill, and tests that kill them where inputs allow.

    A test is kept for a mutant only if it fails on it every time; one test may kill
    several mutants (the same input tells each from the base).
    """
    base = mutant_inputs.observe(ctx.request, ctx.baseline, ctx.baseline.root, target)
    if ctx.baseline.target_kinds.get(target.key) == "method":
        rebuilt = [o for o in base.outcomes if not o.derived and o.receiver != "null"]
        ctx.baseline.rebuilt_receivers[target.key] = len(rebuilt)
    if base.refused:
        ctx.note(f"{target.key}: {_refused(base.refused)}")
    survivors: list[Survivor] = []
    cases: list[Case] = []
    for index, mutant in enumerate(found, 1):
        with checkout(_mutant_diff(ctx, target, mutant)) as root:
            if _suite_kills(ctx, root, target, timeout):
                continue
            pinned, why = _told_apart(
                ctx, root, target, mutant, base, [c.pinned.base for c in cases]
            )
            if pinned is None:
                survivors.append(Survivor(index, mutant, None, why))
                continue
            same = [c for c in cases if c.pinned.base == pinned.base]
            case = (
                same[0].also_kills(mutant.label)
                if same
                else Case(regression_tests.case_name(target, index), (mutant.label,), pinned)
            )
            if _fails_every_time(ctx, root, target, test_path, case, timeout):
                cases = [case if c.name == case.name else c for c in cases]
                cases += [] if same else [case]
                survivors.append(Survivor(index, mutant, case.name))
            else:
                why = "the pinned test does not fail on it every time"
                survivors.append(Survivor(index, mutant, None, why))
    return survivors, cases


def _told_apart(
    ctx: MethodContext,
    root: Path,
    target: Target,
    mutant: mutations.Mutant,
    base: mutant_inputs.Observed,
    pinned: Sequence[mutant_inputs.Outcome],
) -> tuple[mutant_inputs.Disagreement | None, str]:
    """An input a test can pin where the mutant at ``root`` differs, or None and why not.

    The captured and derived inputs short enough for a test come first; failing those,
    a long captured input on which the two differ is shrunk to a short one. When no input
    tells them apart at all, the why says whether the mutated line ran.
    """
    observed = mutant_inputs.Observed(())
    if base.outcomes:
        observed = mutant_inputs.observe(ctx.request, ctx.baseline, root, target, base.outcomes)
        found = mutant_inputs.disagreement(base, observed, pinned)
        if found is not None:
            return found, ""
    shrunk = mutant_inputs.shrink(ctx.request, ctx.baseline, root, target)
    found = mutant_inputs.disagreement(*shrunk)
    if found is not None:
        return found, ""
    differs = mutant_inputs.unpinned(base, observed)
    if differs:
        return None, differs + _errors(base, observed, shrunk[0])
    if base.outcomes:
        why = f"none of {len(base.outcomes)} captured or derived input(s) tells it from the base"
    else:
        why = "no recorded call has arguments that can be written as Python literals"
        why += f"; {_refused(base.refused)}" if base.refused else ""
    why += _errors(base, observed, shrunk[0])
    return None, why + _second_look(ctx, target, mutant, tried=bool(base.outcomes))


def _refused(refused: Sequence[tuple[str, int]]) -> str:
    """How many recorded calls had a receiver no test can rebuild, and the commonest reason."""
    total = sum(n for _, n in refused)
    why, _ = max(refused, key=lambda item: item[1])
    others = f" (and {len(refused) - 1} other reason(s))" if len(refused) > 1 else ""
    return f"{total} recorded call(s) skipped, receiver not rebuilt: {why}{others}"


def _second_look(
    ctx: MethodContext, target: Target, mutant: mutations.Mutant, *, tried: bool
) -> str:
    """Whether the mutated line ran on the recorded calls: never (an untested path) or how often.

    A line that never ran is a path the suite does not exercise, not an equivalent mutant.
    """
    traced = line_profile.base_trace(ctx, target)
    if not traced.lines:
        return "; coverage of the mutated line is unknown (the recorded calls could not be traced)"
    where = f"{target.file} line {mutant.line}"
    if traced.rewritten:
        names = ", ".join(traced.rewritten[:3])
        return (
            f"; coverage of {where} is unknown: a decorator recompiled {target.qualname} (its "
            f"code uses {names}, which its source never mentions), so traced line numbers "
            "are not the lines that ran"
        )
    hits = {line.line: line.hits for line in traced.lines}
    if mutant.line not in hits:
        ran = ", ".join(str(n) for n in sorted(hits))
        return f"; untested path: {where} never ran on the recorded calls (lines that ran: {ran})"
    ran = f"; {where} ran ({hits[mutant.line]} hit(s) replaying the recorded calls)"
    if not tried:
        return ran + ", but no input could be tried on the mutant"
    return ran + " and the outputs matched: it may be an equivalent mutant"


def _fails_every_time(
    ctx: MethodContext, root: Path, target: Target, test_path: str, case: Case, timeout: float
) -> bool:
    """Write ``case`` alone into the mutant's checkout and run it :data:`MUTANT_RUNS` times."""
    test_file = ctx.request.project_path(root) / test_path
    test_file.parent.mkdir(parents=True, exist_ok=True)
    test_file.write_text(regression_tests.render_file(target, [case]))
    outcomes = _repeat(ctx, root, test_path, [case.name], MUTANT_RUNS, timeout)[case.name]
    return "passed" not in outcomes


def _errors(*observed: mutant_inputs.Observed) -> str:
    """The first thing that went wrong searching inputs, to explain a survivor."""
    errors = [error for one in observed for error in one.errors]
    return f" ({errors[0]})" if errors else ""


def _passing_on_base(
    ctx: MethodContext,
    checkout: Checkout,
    target: Target,
    test_path: str,
    cases: list[Case],
    timeout: float,
) -> tuple[list[Case], str]:
    """The tests that pass on the base every time, and the diff adding them."""
    diff = ""
    while cases:
        diff = _test_diff(ctx, target, test_path, cases)
        with checkout(diff) as root:
            names = [c.name for c in cases]
            outcomes = _repeat(ctx, root, test_path, names, BASE_RUNS, timeout)
        passing = [c for c in cases if outcomes[c.name] == {"passed"}]
        for case in cases:
            if case not in passing:
                ctx.note(f"{target.key}: dropped {case.name}: it does not pass on the base")
        if len(passing) == len(cases):
            break
        cases = passing
    return cases, diff


def _test_text(ctx: MethodContext, target: Target, test_path: str, cases: Sequence[Case]) -> str:
    text = regression_tests.render_file(target, cases)
    project = ctx.request.project_path(ctx.baseline.root)
    return regression_tests.tidy(ctx.request, project, test_path, text)


def _test_diff(ctx: MethodContext, target: Target, test_path: str, cases: Sequence[Case]) -> str:
    text = _test_text(ctx, target, test_path, cases)
    return new_file_diff(ctx.request.repo_relative(test_path), text)


def _repeat(
    ctx: MethodContext,
    root: Path,
    test_path: str,
    names: Sequence[str],
    runs: int,
    timeout: float,
) -> dict[str, set[str]]:
    """Every outcome each named test of the file had over ``runs`` runs."""
    seen: dict[str, set[str]] = {name: set() for name in names}
    file_name = posixpath.basename(test_path)
    for _ in range(runs):
        suite = run_suite(ctx.request, root, only=[test_path], timeout=timeout)
        by_name = {
            node.rsplit("::", 1)[-1]: outcome
            for node, outcome in suite.outcomes.items()
            if node.split("::", 1)[0].endswith(file_name)
        }
        for name in names:
            default = "timed out" if suite.completed.timed_out else "did not run"
            seen[name].add(by_name.get(name, default))
    return seen


def _candidate(
    ctx: MethodContext,
    target: Target,
    test_path: str,
    cases: Sequence[Case],
    diff: str,
    scores: tuple[Score, Score],
) -> Candidate:
    repo_path = ctx.request.repo_relative(test_path)
    before, after = scores
    killed = "; ".join(m for c in cases for m in c.mutants)
    return Candidate(
        target=target,
        diff=diff,
        files=(repo_path,),
        method=NAME,
        generator=SEARCH,
        rule=RULE,
        description=(
            f"Adds {test_path}: {len(cases)} regression test(s) for {target.key} that kill "
            f"mutants the suite let survive; mutation score {before} -> {after}."
        ),
        provenance={
            "mutation_score_before": str(before),
            "mutation_score_after": str(after),
            "killed_by_new_tests": killed,
        },
    )
