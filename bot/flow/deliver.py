"""The one delivery step: bundle → signatures → pull request or fallback → IPFS → ledger → report.

``run`` and ``merge`` both end here, so a merged change is signed and pinned like any
other. The bundle is on disk before any remote step, so a remote that fails loses
nothing: it only adds a note saying why.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.bundle import ledger
from bot.bundle import write as bundle
from bot.bundle.publish import Endpoints, publish
from bot.bundle.read import locate_change
from bot.core import atomic, interrupt
from bot.core.errors import UserError
from bot.core.evaluation import Evaluation
from bot.core.request import Request
from bot.flow.progress import Progress
from bot.report.render import markdown
from bot.report.results import Delivered, RunResult
from bot.report.stats import record_events
from bot.signing.sigstore_sign import sign_patches


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


def deliver(
    request: Request, result: RunResult, progress: Progress, chosen: list[Evaluation]
) -> None:
    """Ship ``chosen`` and record every decision in ``result.evaluations``.

    Writes the bundle (patches, metadata, SSH signatures), signs with sigstore when asked,
    opens or updates the draft pull request, pins to IPFS, appends the ledger lines and
    writes ``report.md``; the steps that need a remote are skipped in a dry run.
    """
    interrupt.check()
    folder: Path = request.output_dir
    progress.stage("bundling", f"writing {len(chosen)} accepted change(s) to {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    result.bundle_dir = folder
    for evaluation in chosen:
        result.delivered.append(bundle.write_change(request, evaluation, folder))
    _sign_keyless(request, result, progress)
    _open_pull_request(request, result, progress, controlled=True)
    _publish(request, result, progress)
    if chosen and request.signing_key is None:
        _note(
            result,
            progress,
            "the bundle is not signed: no signing key (make one with `selfimprove keygen`)",
        )
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
    record_events(request.home, result.run_id, [{"event": "run"}])
    atomic.write_text(folder / "report.md", markdown(result))


def deliver_bundle(
    request: Request, delivered: list[Delivered], progress: Progress, run_id: str
) -> RunResult:
    """Open or update the draft PR of a bundle made (and verified) elsewhere; no project code runs.

    The same pull-request step as a run's, so the branch, the body and the idempotence are
    the same: a re-run updates, a bundle that fell back earlier is delivered now.
    """
    interrupt.check()
    result = RunResult(run_id=run_id, request=request, bundle_dir=request.output_dir)
    result.evaluations = [d.evaluation for d in delivered]
    result.delivered = list(delivered)
    _open_pull_request(request, result, progress)
    return result


def _note(result: RunResult, progress: Progress, text: str) -> None:
    progress.note(text)
    result.notes.append(text)


def _sign_keyless(request: Request, result: RunResult, progress: Progress) -> None:
    """Sign each written patch and its metadata keylessly when asked; never in a dry run.

    Fulcio and Rekor are remote, and Rekor's log is public, so a dry run only says why it
    did not sign. Any failure is one note; the bundle on disk is already complete.
    """
    if not request.sigstore or not result.delivered:
        return
    if request.dry_run:
        _note(
            result,
            progress,
            "not signed with sigstore: a dry run touches no remote (Fulcio, Rekor)",
        )
        return
    progress.stage("signing", f"sigstore: {len(result.delivered)} patch(es), keyless")
    outcome = sign_patches([f for d in result.delivered for f in (d.patch, d.metadata)])
    for path in outcome.written:
        _note(result, progress, f"signed with sigstore: {path.name}")
    if outcome.note:
        _note(result, progress, outcome.note)


def _open_pull_request(
    request: Request, result: RunResult, progress: Progress, *, controlled: bool = False
) -> None:
    """Open or update the run's draft PR when a repository is set; else, or failing, the bundle.

    ``controlled``: a run's changes pass the noise policy (caps, memory, impact floor,
    grouping, dashboard); a bundle delivered by hand with ``selfimprove deliver`` does not.
    A GitHub that cannot be used (no token, quota near the reserve, API down) only leaves
    a note saying why, never a failed run.
    """
    wanted = result.delivered or (controlled and request.noise.dashboard)
    if request.dry_run or not wanted or request.github_repository is None:
        return
    # githubkit loads only when it is needed
    from bot.github.controlled import deliver_controlled
    from bot.github.delivery import deliver_run

    progress.stage("delivering", f"a draft pull request on {request.github_repository}")
    step = deliver_controlled if controlled else deliver_run
    for line in step(request, result, os.environ):
        _note(result, progress, line)


def _publish(request: Request, result: RunResult, progress: Progress) -> None:
    """Pin each bundled patch to IPFS, unless this is a dry run or no endpoint is set.

    A pin that cannot finish now is recorded as pending in ``<id>.pin.json`` and
    ``selfimprove pin`` retries it later.
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
            _note(result, progress, f"not pinned: {exc}")
        for record in records:
            line = f"{delivered.patch.name}: {record.service} {record.status}: {record.detail}"
            _note(result, progress, line)
