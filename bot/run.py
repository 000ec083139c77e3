"""The orchestrator: Request → targets → method → candidates → gates → selection → bundle.

One direction, no back-and-forth. Every worktree is removed when the run ends, however
it ends (success, failure, Ctrl-C, SIGTERM), and the bundle is on disk before anything
else would be attempted.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from types import ModuleType

import git

from bot import atomic, bundle, ledger
from bot.characterize import prepare
from bot.core import sandbox
from bot.core.baseline import Baseline
from bot.core.candidate import Candidate
from bot.core.errors import UserError
from bot.core.evaluation import Evaluation, GateResult
from bot.core.method import MethodContext
from bot.core.request import Request
from bot.core.worktree import Worktrees, apply_diff
from bot.progress import Progress
from bot.publish import Endpoints, publish
from bot.report import markdown
from bot.results import RunResult
from bot.verify import locate_change
from methods import test_driven
from methods.codemod_generator import CodemodGenerator
from validators.cascade import GATES, run_cascade
from validators.context import GateContext

METHODS: dict[str, ModuleType] = {test_driven.NAME: test_driven}


def run(request: Request, progress: Progress) -> RunResult:
    """Do one whole run and return what it found; the bundle is written to ``output_dir``."""
    began = time.perf_counter()
    sandbox.CLOCK.reset()
    result = RunResult(run_id=request.output_dir.name, request=request)
    for warning in request.warnings:
        progress.note(warning)
        result.notes.append(warning)
    try:
        with Worktrees(request.repo_root, request.home, result.run_id) as trees:
            base_root = trees.add("base", request.base_commit)
            baseline, result.targets = prepare(request, base_root, trees.root, progress)
            method = METHODS[request.method]
            counter = itertools.count(1)

            def evaluate(candidate: Candidate) -> Evaluation:
                return _evaluate(request, trees, baseline, candidate, next(counter), progress)

            def note(text: str) -> None:
                progress.note(text)
                result.notes.append(text)

            generator = CodemodGenerator()
            context = MethodContext(request, baseline, evaluate, note, generator)
            progress.stage("generating", f"{method.NAME} with the {generator.name} generator")
            for target in baseline.targets:
                result.evaluations.extend(method.run(context, target))
            result.seconds = time.perf_counter() - began
            _deliver(request, result, progress)
    except BaseException:
        sandbox.kill_all()
        raise
    result.seconds = time.perf_counter() - began
    result.subprocess_seconds = dict(sandbox.CLOCK.seconds)
    return result


def _evaluate(
    request: Request,
    trees: Worktrees,
    baseline: Baseline,
    candidate: Candidate,
    index: int,
    progress: Progress,
) -> Evaluation:
    """Check a candidate out in its own worktree, run the gates, remove the worktree."""
    progress.candidate(index, candidate)
    root = trees.add(f"candidate-{index}", request.base_commit)
    try:
        try:
            apply_diff(root, candidate.diff)
        except git.GitCommandError as exc:
            reason = f"the diff does not apply to the base commit: {exc.stderr.strip()}"
            failed = GateResult(GATES[0].NAME, False, 0.0, reason)
            progress.gate(failed.gate, failed)
            return Evaluation(candidate, (failed,), len(GATES))
        return run_cascade(GateContext(request, candidate, baseline, root), on_gate=progress.gate)
    finally:
        trees.remove(root)


def select(evaluations: list[Evaluation]) -> list[Evaluation]:
    """The best accepted candidate per target: the largest measured speed-up."""
    best: dict[str, Evaluation] = {}
    for evaluation in evaluations:
        if not evaluation.accepted:
            continue
        key = evaluation.candidate.target.key
        if key not in best or evaluation.speedup > best[key].speedup:
            best[key] = evaluation
    return list(best.values())


def _publish(request: Request, result: RunResult, progress: Progress) -> None:
    """Pin each bundled patch to IPFS, unless this is a dry run or no endpoint is set.

    The bundle is already complete on disk; a pin that cannot finish now is recorded as
    pending in ``<id>.pin.json`` and ``selfimprove pin`` retries it later.
    """
    endpoints = Endpoints.from_env(request.ipfs_api, request.pinning_endpoint)
    if request.dry_run or not endpoints.configured or not result.delivered:
        return
    progress.stage("pinning", f"publishing {len(result.delivered)} patch(es) to IPFS")
    for delivered in result.delivered:
        try:
            records = publish(locate_change(str(delivered.metadata)), endpoints)
        except UserError as exc:
            records = []
            result.notes.append(f"not pinned: {exc}")
        for record in records:
            line = f"{delivered.patch.name}: {record.service} {record.status}: {record.detail}"
            progress.note(line)
            result.notes.append(line)


def _deliver(request: Request, result: RunResult, progress: Progress) -> None:
    """Write the bundle (patches, metadata, report.md) and one ledger line per decision."""
    chosen = select(result.evaluations)
    folder: Path = request.output_dir
    progress.stage("bundling", f"writing {len(chosen)} accepted change(s) to {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    result.bundle_dir = folder
    for evaluation in chosen:
        result.delivered.append(bundle.write_change(request, evaluation, folder))
    _publish(request, result, progress)
    if chosen and request.signing_key is None:
        unsigned = "the bundle is not signed: no signing key (make one with `selfimprove keygen`)"
        progress.note(unsigned)
        result.notes.append(unsigned)
    ledgers = (folder / "ledger.jsonl", request.home / "ledger.jsonl")
    for evaluation in result.evaluations:
        decision = (
            "selected"
            if evaluation in chosen
            else "accepted, not selected"
            if evaluation.accepted
            else "rejected"
        )
        ledger.record(ledgers, result.run_id, request.base_commit, evaluation, decision)
    atomic.write_text(folder / "report.md", markdown(result))
