"""``selfimprove merge``: the final job of a fan-out, many shards' bundles into one change.

The bundles must come from one base commit. Their changes go through the merge rule
(:mod:`bot.flow.merge_rule`); the combination is proven again as a whole against the repository,
on a fresh baseline that profiles the suite and records calls to the union of the
constituents' targets. When the whole passes, one merged change is written (patch,
reverse patch, metadata, signed like any bundle); when it fails where the parts passed,
the parts are copied over unchanged, signatures included, and ``merge.json`` says why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.bundle import ledger
from bot.bundle.read import files_of, find_changes, same_base
from bot.core import atomic
from bot.core.evaluation import Evaluation
from bot.core.request import Request
from bot.flow.characterize import prepare
from bot.flow.deliver import deliver
from bot.flow.merge_rule import Choice, Proposal, choose, combine, regate, whole_accepted
from bot.flow.progress import Progress
from bot.flow.session import Session
from bot.report.results import Delivered, PullRef, RunResult

# The project's Request at the bundles' base: (project folder relative to the repository,
# base commit, target specs, output folder) -> Request. The entry point that knows the
# flags and the config builds it (``bot.config.request_at``).
RequestMaker = Callable[[str, str, tuple[str, ...], Path], Request]


@dataclass
class MergeOutcome:
    """What the merge decided and wrote."""

    choice: Choice
    evaluations: list[Evaluation] = field(default_factory=list)
    merged: Delivered | None = None
    copied: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pull_request: PullRef | None = None


def merge_bundles(
    folders: list[Path], out: Path, progress: Progress, make_request: RequestMaker
) -> MergeOutcome:
    """Merge the changes of ``folders`` into ``out``: one proven change, or the parts.

    A merged change goes through the same delivery step as a run's: signed (SSH and,
    when asked, sigstore), the draft pull request unless a dry run, pinned to IPFS.
    """
    changes = find_changes(folders)
    if not changes:
        out.mkdir(parents=True, exist_ok=True)
        outcome = MergeOutcome(Choice((), ()), notes=["no accepted change in the bundles"])
        _write_summary(out, outcome, None, None)
        return outcome
    base_commit, project = same_base(changes)
    choice = choose([Proposal(c.candidate, c.speedup, str(c.metadata)) for c in changes])
    outcome = MergeOutcome(choice)
    for loser, winner in choice.dropped:
        outcome.notes.append(
            f"{loser.candidate.id} overlaps {winner.candidate.id}, which is faster "
            f"({loser.speedup:.2f}x < {winner.speedup:.2f}x): dropped"
        )
    specs = tuple(f"{p.candidate.target.file}:{p.candidate.target.qualname}" for p in choice.kept)
    request = make_request(project, base_commit, specs, out)
    if len(choice.kept) == 1:
        outcome.notes.append("one change left after the merge rule: copied as it is")
        outcome.copied = _copy_parts(choice.kept, out)
    else:
        _prove_whole(request, outcome, progress)
    for note in outcome.notes:
        progress.note(note)
    _write_summary(out, outcome, base_commit, project)
    return outcome


def _prove_whole(request: Request, outcome: MergeOutcome, progress: Progress) -> None:
    """Combine the kept parts, run the whole through the gates, deliver it or keep the parts."""
    kept = outcome.choice.kept
    run_id = f"merge-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
    with Session(request, progress, run_id) as session:
        diff = combine(kept, session.base_text)
        baseline, targets = prepare(request, session.base_root, session.trees.root, progress)
        progress.stage("merging", f"proving {len(kept)} changes together")
        outcome.evaluations = regate(kept, diff, lambda c: session.evaluate(baseline, c))
    result = RunResult(run_id=run_id, request=request, targets=targets)
    result.evaluations = list(outcome.evaluations)
    if whole_accepted(kept, outcome.evaluations):
        deliver(request, result, progress, outcome.evaluations[:1])
        outcome.merged = result.delivered[0]
        outcome.pull_request = result.pull_request
        outcome.notes += result.notes
        return
    out = request.output_dir
    out.mkdir(parents=True, exist_ok=True)
    ledgers = (out / "ledger.jsonl", request.home / "ledger.jsonl")
    for evaluation in outcome.evaluations:
        ledger.record(ledgers, run_id, request.base_commit, evaluation, "rejected")
    last = outcome.evaluations[-1]
    stopped = last.stopped_by
    why = f"{stopped.gate}: {stopped.reason}" if stopped else "not every gate ran"
    outcome.notes.append(
        f"the merged change fails on {last.candidate.target.key} ({why}) although each part "
        "passed alone: the parts are kept separate"
    )
    outcome.copied = _copy_parts(kept, out)


def _copy_parts(parts: tuple[Proposal, ...], out: Path) -> list[Path]:
    """Copy each part's bundle files (patches, metadata, signatures, pin record) to ``out``."""
    copied: list[Path] = []
    for part in parts:
        for source in files_of(Path(part.origin)):
            copied.append(atomic.write_bytes(out / source.name, source.read_bytes()))
    return copied


def _write_summary(
    out: Path, outcome: MergeOutcome, base_commit: str | None, project: str | None
) -> None:
    """``merge.json``: the parts, what was dropped and why, the whole's verdicts."""

    def part(proposal: Proposal) -> dict[str, Any]:
        candidate = proposal.candidate
        return {
            "id": candidate.id,
            "target": candidate.target.key,
            "rule": candidate.rule,
            "diff_sha256": candidate.diff_sha256,
            "speedup": proposal.speedup,
            "from": proposal.origin,
        }

    summary = {
        "base_commit": base_commit,
        "project": project,
        "merged": outcome.merged.metadata.name if outcome.merged else None,
        "parts": [part(p) for p in outcome.choice.kept],
        "dropped": [
            {**part(loser), "overlaps": winner.candidate.id}
            for loser, winner in outcome.choice.dropped
        ],
        "regate": [
            {
                "target": e.candidate.target.key,
                "accepted": e.accepted,
                "stopped_by": e.stopped_by.gate if e.stopped_by else None,
                "reason": e.stopped_by.reason if e.stopped_by else None,
            }
            for e in outcome.evaluations
        ],
        "copied": [p.name for p in outcome.copied],
        "notes": outcome.notes,
    }
    atomic.write_text(out / "merge.json", json.dumps(summary, indent=2) + "\n")
