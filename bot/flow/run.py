"""The orchestrator: Request → targets → method → candidates → gates → selection → bundle.

One direction, no back-and-forth. Every worktree is removed when the run ends, however
it ends (success, failure, Ctrl-C, SIGTERM), and the bundle is on disk before anything
else would be attempted.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import git

from bot.bundle import ledger
from bot.bundle import write as bundle
from bot.bundle.publish import Endpoints, publish
from bot.bundle.verify import locate_change
from bot.core import atomic, sandbox
from bot.core.baseline import Baseline
from bot.core.candidate import Candidate
from bot.core.errors import UserError
from bot.core.evaluation import Evaluation, GateResult
from bot.core.generator import Generator
from bot.core.method import MethodContext
from bot.core.request import Request
from bot.core.worktree import Worktrees, apply_diff
from bot.flow.characterize import prepare
from bot.flow.merge_rule import merge_same_files
from bot.flow.progress import Progress
from bot.report.render import markdown
from bot.report.results import RunResult
from bot.signing.sigstore_sign import sign_patches
from methods import registry
from methods.llm_generator import LLMGenerator, generator_for
from validators.cascade import GATES, run_cascade
from validators.context import GateContext


def run(request: Request, progress: Progress, given: Generator | None = None) -> RunResult:
    """Do one whole run and return what it found; the bundle is written to ``output_dir``.

    ``given`` replaces the configured generator (a test's own generator, for instance).
    """
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
            method = registry.load(request.method)
            counter = itertools.count(1)

            def evaluate(candidate: Candidate) -> Evaluation:
                return evaluate_in_worktree(
                    request, trees, baseline, candidate, next(counter), progress
                )

            def note(text: str) -> None:
                progress.note(text)
                result.notes.append(text)

            generator = given or generator_for(request, note)
            scratch = itertools.count(1)

            def checkout(diff: str) -> AbstractContextManager[Path]:
                return _scratch_checkout(trees, request, f"scratch-{next(scratch)}", diff)

            context = MethodContext(
                request,
                baseline,
                evaluate,
                note,
                generator,
                gate_count=len(GATES),
                checkout=checkout,
            )
            using = method.GENERATOR or f"the {generator.name} generator"
            progress.stage("generating", f"{method.NAME} with {using}")
            for target in baseline.targets:
                result.evaluations.extend(method.run(context, target))
            if isinstance(generator, LLMGenerator):
                result.llm = generator.summary()
            chosen = _merge_shared_files(result, base_root, evaluate, progress)
            result.seconds = time.perf_counter() - began
            _deliver(request, result, progress, chosen)
    except BaseException:
        sandbox.kill_all()
        raise
    result.seconds = time.perf_counter() - began
    result.subprocess_seconds = dict(sandbox.CLOCK.seconds)
    return result


@contextmanager
def _scratch_checkout(trees: Worktrees, request: Request, name: str, diff: str) -> Iterator[Path]:
    """A worktree of the base commit with ``diff`` applied, removed however the block ends."""
    root = trees.add(name, request.base_commit)
    try:
        apply_diff(root, diff)
        yield root
    finally:
        trees.remove(root)


def evaluate_in_worktree(
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


def _sign_keyless(request: Request, result: RunResult, progress: Progress) -> None:
    """Sign each written patch and its metadata keylessly when asked; never in a dry run.

    Fulcio and Rekor are remote, and Rekor's log is public, so a dry run only says why it
    did not sign. Any failure is one note; the bundle on disk is already complete.
    """
    if not request.sigstore or not result.delivered:
        return
    if request.dry_run:
        notes = ["not signed with sigstore: a dry run touches no remote (Fulcio, Rekor)"]
    else:
        progress.stage("signing", f"sigstore: {len(result.delivered)} patch(es), keyless")
        outcome = sign_patches([f for d in result.delivered for f in (d.patch, d.metadata)])
        notes = [f"signed with sigstore: {path.name}" for path in outcome.written]
        notes += [outcome.note] if outcome.note else []
    for note in notes:
        progress.note(note)
        result.notes.append(note)


def _open_pull_request(request: Request, result: RunResult, progress: Progress) -> None:
    """Open or update the run's draft PR when a repository is set; else, or failing, the bundle.

    The bundle is already on disk: a GitHub that cannot be used (no token, quota near the
    reserve, API down) only leaves a note saying why, never a failed run.
    """
    if request.dry_run or not result.delivered or request.github_repository is None:
        return
    from bot.github.delivery import deliver_run  # githubkit loads only when it is needed

    progress.stage("delivering", f"a draft pull request on {request.github_repository}")
    for line in deliver_run(request, result, os.environ):
        progress.note(line)
        result.notes.append(line)


def _merge_shared_files(
    result: RunResult,
    base_root: Path,
    evaluate: Callable[[Candidate], Evaluation],
    progress: Progress,
) -> list[Evaluation]:
    """The best change per target, with changes that share a file merged and proven again.

    Several targets (and methods) can change one file; shipped side by side, changes that
    passed alone could still clash, so :func:`merge_same_files` proves the whole.
    """
    merged = merge_same_files(
        select(result.evaluations), evaluate, lambda path: (base_root / path).read_text()
    )
    result.evaluations.extend(merged.evaluations)
    for text in merged.notes:
        progress.note(text)
        result.notes.append(text)
    return merged.chosen


def _deliver(
    request: Request,
    result: RunResult,
    progress: Progress,
    chosen: list[Evaluation] | None = None,
) -> None:
    """Write the bundle (patches, metadata, report.md) and one ledger line per decision.

    ``chosen`` is what ships (default: the best accepted change per target).
    """
    chosen = select(result.evaluations) if chosen is None else chosen
    folder: Path = request.output_dir
    progress.stage("bundling", f"writing {len(chosen)} accepted change(s) to {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    result.bundle_dir = folder
    for evaluation in chosen:
        result.delivered.append(bundle.write_change(request, evaluation, folder))
    _sign_keyless(request, result, progress)
    _open_pull_request(request, result, progress)
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
