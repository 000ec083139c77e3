"""Adversarial: N candidates per target compete; each is attacked, the survivors race.

1. **Entrants**: up to ``adversarial-candidates`` from the generator (with the codemods:
   different rules and their combination).
2. **Attack** (in parallel, one worktree per entrant, bounded by cores): edge-case inputs
   derived from the captured calls are recorded on the base and replayed on each entrant
   (:mod:`methods.attack`); tests an entrant brings along are run against the others
   (:mod:`methods.cross_tests`). Any disagreement kills the entrant, naming the input.
3. **Tournament** (one at a time, because the performance gate times): the survivors go
   through the gates; the largest proven speed-up wins, the other accepted ones lose.

The method's own verdicts are gates of their own in each Evaluation ("adversarial" first,
"tournament" last), so report, ledger and JSON show why an entrant died or lost.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import git

from bot.core import sandbox
from bot.core.candidate import Candidate, Target
from bot.core.evaluation import Evaluation, GateResult
from bot.core.method import MethodContext
from bot.core.worktree import Worktrees, apply_diff
from methods import attack, cross_tests

NAME = "adversarial"
GENERATOR: str | None = None  # the run's generator makes its candidates
ATTACK_GATE = "adversarial"
TOURNAMENT_GATE = "tournament"


@dataclass(frozen=True)
class Verdict:
    """What the attack phase concluded about one entrant."""

    candidate: Candidate
    result: GateResult

    @property
    def survived(self) -> bool:
        return self.result.passed


def run(ctx: MethodContext, target: Target) -> list[Evaluation]:
    """Attack every entrant for ``target``, prove the survivors, and crown one winner."""
    if ctx.baseline.captured_calls.get(target.key, 0) == 0:
        ctx.note(f"{target.key}: no calls recorded while the suite ran, so nothing can be proven")
        return []
    count = ctx.request.adversarial_candidates
    entrants = ctx.generator.propose(ctx, target, method=NAME, count=count)
    if not entrants:
        ctx.note(f"{target.key}: the {ctx.generator.name} generator has no candidate")
        return []
    verdicts = attack_all(ctx, target, entrants)
    killed = [v for v in verdicts if not v.survived]
    survivors = [v for v in verdicts if v.survived]
    ctx.note(
        f"{target.key}: {len(survivors)} of {len(entrants)} candidate(s) survived the attack"
        + (f"; killed: {', '.join(v.candidate.rule for v in killed)}" if killed else "")
    )
    dead = [Evaluation(v.candidate, (v.result,), ctx.gate_count + 2) for v in killed]
    proven = [_with_attack(v.result, ctx.evaluate(v.candidate)) for v in survivors]
    return dead + tournament(proven)


def attack_all(ctx: MethodContext, target: Target, entrants: Sequence[Candidate]) -> list[Verdict]:
    """Each entrant's attack verdict, in entrant order; entrants are attacked in parallel."""
    baseline = ctx.baseline
    base_project = ctx.request.project_path(baseline.root)
    baseline.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="adversarial-", dir=baseline.work_dir) as scratch:
        cases: attack.EdgeCases | None = None
        if baseline.capture_file is not None:
            try:
                cases = attack.derive(
                    ctx.request,
                    base_project,
                    baseline.capture_file,
                    target.key,
                    baseline.import_roots,
                    Path(scratch),
                )
            except attack.AttackError as exc:
                ctx.note(f"{target.key}: no edge-case attack: {exc}")
        if cases is not None and cases.count == 0:
            why = "; ".join(cases.errors) or f"{cases.tried} tried, none deterministic on the base"
            ctx.note(f"{target.key}: no edge-case inputs could be derived ({why})")
            cases = None
        pins = cross_tests.collect(ctx.request, entrants)
        if cases is not None:
            ctx.note(
                f"{target.key}: attacking {len(entrants)} candidate(s) with {cases.count} "
                "edge-case input(s) derived from the recorded calls"
            )
        run_id = f"{ctx.request.output_dir.name}-{NAME}"
        with Worktrees(ctx.request.repo_root, ctx.request.home, run_id) as trees:
            arena = _Arena(ctx, cases, pins, trees)
            workers = max(1, min(len(entrants), os.cpu_count() or 1))
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=NAME)
            try:
                return list(pool.map(arena.attack, entrants))
            except BaseException:  # Ctrl-C: stop the attacks now rather than wait them out
                sandbox.kill_all()
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


class _Arena:
    """Shared state of one attack phase: the edge cases, the entrants' tests, the worktrees."""

    def __init__(
        self,
        ctx: MethodContext,
        cases: attack.EdgeCases | None,
        pins: cross_tests.Pins,
        trees: Worktrees,
    ) -> None:
        self.ctx = ctx
        self.cases = cases
        self.pins = pins
        self.trees = trees
        self._git = threading.Lock()  # git worktree bookkeeping is not safe to run in parallel
        self._count = 0

    def attack(self, candidate: Candidate) -> Verdict:
        began = time.perf_counter()
        with self._git:
            self._count += 1
            root = self.trees.add(f"entrant-{self._count}", self.ctx.request.base_commit)
        try:
            try:
                apply_diff(root, candidate.diff)
            except git.GitCommandError as exc:
                why = f"the diff does not apply to the base commit: {exc.stderr.strip()}"
                return self._verdict(candidate, began, False, why)
            return self._judge(candidate, root, began)
        finally:
            with self._git:
                self.trees.remove(root)

    def _judge(self, candidate: Candidate, root: Path, began: float) -> Verdict:
        project = self.ctx.request.project_path(root)
        checked: list[str] = []
        if self.cases is not None:
            try:
                breach = attack.check(
                    self.ctx.request, project, self.cases, self.ctx.baseline.import_roots
                )
            except attack.AttackError as exc:
                return self._verdict(candidate, began, False, f"under attack: {exc}")
            if breach is not None:
                return self._verdict(candidate, began, False, str(breach), edge_case=breach.label)
            checked.append(f"same outcome as the base on {self.cases.count} edge-case input(s)")
        failing = cross_tests.run_against(self.ctx.request, self.pins, candidate, root)
        if failing is not None:
            return self._verdict(candidate, began, False, failing)
        if self.pins.tests_from(candidate):
            checked.append(f"passes the {self.pins.count_against(candidate)} test(s) of the others")
        return self._verdict(candidate, began, True, "; ".join(checked) or "nothing to attack")

    def _verdict(
        self, candidate: Candidate, began: float, survived: bool, reason: str, **details: object
    ) -> Verdict:
        seconds = time.perf_counter() - began
        edge_cases = self.cases.count if self.cases else 0
        result = GateResult(
            ATTACK_GATE, survived, seconds, reason, {"edge_cases": edge_cases, **details}
        )
        return Verdict(candidate, result)


def _with_attack(attacked: GateResult, evaluation: Evaluation) -> Evaluation:
    """The gates' evaluation with the attack verdict first; the tournament comes last."""
    results = (attacked, *evaluation.results)
    return Evaluation(evaluation.candidate, results, evaluation.gate_count + 2)


def tournament(proven: Sequence[Evaluation]) -> list[Evaluation]:
    """The accepted entrant with the largest speed-up wins; the other accepted ones lose."""
    finalists = [e for e in proven if _finished_gates(e)]
    if not finalists:
        return list(proven)
    winner = max(finalists, key=lambda e: e.speedup)
    others = ", ".join(f"{e.candidate.rule} {e.speedup:.2f}x" for e in finalists if e is not winner)
    decided: list[Evaluation] = []
    for evaluation in proven:
        if evaluation is winner:
            reason = f"won the tournament with {winner.speedup:.2f}x" + (
                f" against {others}" if others else " (the only finalist)"
            )
            decided.append(_with_final(evaluation, GateResult(TOURNAMENT_GATE, True, 0.0, reason)))
        elif evaluation in finalists:
            reason = (
                f"lost the tournament to {winner.candidate.rule} ({winner.candidate.id}): "
                f"{evaluation.speedup:.2f}x against {winner.speedup:.2f}x"
            )
            decided.append(_with_final(evaluation, GateResult(TOURNAMENT_GATE, False, 0.0, reason)))
        else:
            decided.append(evaluation)
    return decided


def _finished_gates(evaluation: Evaluation) -> bool:
    """Passed the attack and every gate (all but the tournament slot are filled and passed)."""
    results = evaluation.results
    return len(results) == evaluation.gate_count - 1 and all(r.passed for r in results)


def _with_final(evaluation: Evaluation, verdict: GateResult) -> Evaluation:
    return Evaluation(evaluation.candidate, (*evaluation.results, verdict), evaluation.gate_count)
