"""``selfimprove merge``: the final job of a fan-out, many shards' bundles into one change.

The bundles must come from one base commit. Their changes go through the merge rule
(:mod:`bot.flow.merge_rule`); the combination is proven again as a whole against the repository,
on a fresh baseline that profiles the suite and records calls to the union of the
constituents' targets. When the whole passes, one merged change is written (patch,
reverse patch, metadata, signed like any bundle); when it fails where the parts passed,
the parts are copied over unchanged, signatures included, and ``merge.json`` says why.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import git

from bot.bundle import ledger
from bot.bundle import write as bundle
from bot.config import Flags, build_request, locate
from bot.core import atomic, sandbox
from bot.core.candidate import Candidate, Target
from bot.core.errors import UserError
from bot.core.evaluation import Evaluation
from bot.core.request import Request
from bot.core.worktree import Worktrees
from bot.flow.characterize import prepare
from bot.flow.merge_rule import Choice, Proposal, choose, combine, regate, whole_accepted
from bot.flow.progress import Progress

# The orchestrator's one way to prove a candidate (own worktree, the seven gates, worktree
# removed); the merged whole must take exactly that path.
from bot.flow.run import evaluate_in_worktree
from bot.report.results import Delivered, PullRef, RunResult


@dataclass(frozen=True)
class Bundled:
    """A change found in a bundle folder: the proposal, its files, its base and project."""

    proposal: Proposal
    metadata: Path
    base_commit: str
    project: str


@dataclass
class MergeOutcome:
    """What the merge decided and wrote."""

    choice: Choice
    evaluations: list[Evaluation] = field(default_factory=list)
    merged: Delivered | None = None
    copied: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pull_request: PullRef | None = None


def find_changes(folders: list[Path]) -> list[Bundled]:
    """Every change in the folders (searched recursively), checked against its metadata."""
    found: list[Bundled] = []
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"not a bundle folder: {folder}")
        for metadata in sorted(folder.rglob("*.json")):
            if metadata.with_suffix(".patch").is_file():
                found.append(_read_change(metadata))
    return found


def _read_change(metadata: Path) -> Bundled:
    try:
        facts: dict[str, Any] = json.loads(metadata.read_text())
        patch = metadata.with_name(str(facts["patch"])).read_bytes()
        module, qualname = str(facts["target"]).split(":", 1)
        project = str(facts["project"])
        repo_file = str(facts["file"])
        method, generator, rule = (str(facts[k]) for k in ("method", "generator", "rule"))
        description = str(facts.get("description", ""))
        speedup = float(facts["timing"]["ratio"])
        base_commit = str(facts["base_commit"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{metadata} is not readable bundle metadata: {exc}") from None
    if hashlib.sha256(patch).hexdigest() != facts.get("patch_sha256"):
        raise UserError(f"{metadata.name}: the patch does not match its sha256 in the metadata")
    diff = _diff_of(patch.decode())
    if hashlib.sha256(diff.encode()).hexdigest() != facts.get("diff_sha256"):
        raise UserError(f"{metadata.name}: the diff in the patch does not match its metadata")
    prefix = "" if project == "." else f"{project}/"
    target = Target(file=repo_file.removeprefix(prefix), module=module, qualname=qualname)
    candidate = Candidate(
        target=target,
        diff=diff,
        files=tuple(str(f) for f in facts.get("files", [repo_file])),
        method=method,
        generator=generator,
        rule=rule,
        description=description,
    )
    return Bundled(Proposal(candidate, speedup, str(metadata)), metadata, base_commit, project)


def _diff_of(patch: str) -> str:
    """The diff inside a ``git format-patch`` style message written by :mod:`bot.bundle.write`."""
    start = patch.find("diff --git ")
    end = patch.rfind("\n-- \n")
    if start < 0 or end < start:
        return ""
    return patch[start : end + 1]


def same_base(changes: list[Bundled]) -> tuple[str, str]:
    """The one base commit and project of all changes; refuse a mix."""
    bases = {c.base_commit for c in changes}
    if len(bases) > 1:
        named = ", ".join(
            f"{base[:12]} ({next(c.metadata.name for c in changes if c.base_commit == base)})"
            for base in sorted(bases)
        )
        raise UserError(
            f"the bundles come from different base commits ({named}): "
            "only shards of one plan, run on one commit, can be merged"
        )
    projects = {c.project for c in changes}
    if len(projects) > 1:
        raise UserError(f"the bundles come from different projects: {', '.join(sorted(projects))}")
    return bases.pop(), projects.pop()


def merge_bundles(
    folders: list[Path],
    repo: str,
    out: Path,
    progress: Progress,
    *,
    dry_run: bool = True,
    repository: str | None = None,
    push_remote: str | None = None,
) -> MergeOutcome:
    """Merge the changes of ``folders`` into ``out``: one proven change, or the parts.

    Not a dry run and a GitHub repository known (``repository``, the config, or
    ``GITHUB_REPOSITORY``): a merged change also becomes the run's draft pull request,
    exactly as a run delivers one; GitHub out of reach leaves the bundle, with the reason.
    """
    changes = find_changes(folders)
    if not changes:
        out.mkdir(parents=True, exist_ok=True)
        outcome = MergeOutcome(Choice((), ()), notes=["no accepted change in the bundles"])
        _write_summary(out, outcome, None, None)
        return outcome
    base_commit, project = same_base(changes)
    choice = choose([c.proposal for c in changes])
    outcome = MergeOutcome(choice)
    for loser, winner in choice.dropped:
        outcome.notes.append(
            f"{loser.candidate.id} overlaps {winner.candidate.id}, which is faster "
            f"({loser.speedup:.2f}x < {winner.speedup:.2f}x): dropped"
        )
    flags = Flags(path=repo, dry_run=dry_run, repository=repository, push_remote=push_remote)
    request = _merge_request(flags, project, base_commit, choice.kept, out)
    if len(choice.kept) == 1:
        outcome.notes.append("one change left after the merge rule: copied as it is")
        outcome.copied = _copy_parts(choice.kept, out)
    else:
        _prove_whole(request, outcome, progress)
    if outcome.merged is not None:
        _open_pull_request(request, outcome, progress)
    for note in outcome.notes:
        progress.note(note)
    _write_summary(out, outcome, base_commit, project)
    return outcome


def _merge_request(
    flags: Flags, project: str, base_commit: str, kept: tuple[Proposal, ...], out: Path
) -> Request:
    """The project's Request at the bundles' base, its targets the union of the parts'."""
    root = locate(flags.path).repo_root
    try:
        git.Repo(root).git.cat_file("-e", f"{base_commit}^{{commit}}")
    except git.GitCommandError:
        raise UserError(f"the bundles' base commit {base_commit[:12]} is not in {root}") from None
    project_dir = root if project == "." else root / project
    specs = tuple(f"{p.candidate.target.file}:{p.candidate.target.qualname}" for p in kept)
    request = build_request(dataclasses.replace(flags, path=str(project_dir), targets=specs))
    return dataclasses.replace(request, base_commit=base_commit, output_dir=out, warnings=())


def _prove_whole(request: Request, outcome: MergeOutcome, progress: Progress) -> None:
    """Combine the kept parts, run the whole through the gates, write it or the parts."""
    kept = outcome.choice.kept
    run_id = f"merge-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}"
    counter = itertools.count(1)
    try:
        with Worktrees(request.repo_root, request.home, run_id) as trees:
            base_root = trees.add("base", request.base_commit)
            diff = combine(kept, lambda path: (base_root / path).read_text())
            baseline, _ = prepare(request, base_root, trees.root, progress)
            progress.stage("merging", f"proving {len(kept)} changes together")
            outcome.evaluations = regate(
                kept,
                diff,
                lambda c: evaluate_in_worktree(
                    request, trees, baseline, c, next(counter), progress
                ),
            )
    except BaseException:
        sandbox.kill_all()
        raise
    out = request.output_dir
    out.mkdir(parents=True, exist_ok=True)
    accepted = whole_accepted(kept, outcome.evaluations)
    decision = "selected" if accepted else "rejected"
    ledgers = (out / "ledger.jsonl", request.home / "ledger.jsonl")
    for evaluation in outcome.evaluations:
        ledger.record(ledgers, run_id, request.base_commit, evaluation, decision)
    if accepted:
        outcome.merged = bundle.write_change(request, outcome.evaluations[0], out)
        return
    last = outcome.evaluations[-1]
    stopped = last.stopped_by
    why = f"{stopped.gate}: {stopped.reason}" if stopped else "not every gate ran"
    outcome.notes.append(
        f"the merged change fails on {last.candidate.target.key} ({why}) although each part "
        "passed alone: the parts are kept separate"
    )
    outcome.copied = _copy_parts(kept, out)


def _open_pull_request(request: Request, outcome: MergeOutcome, progress: Progress) -> None:
    """The merged change as the draft pull request, when this is not a dry run."""
    if request.dry_run or request.github_repository is None or outcome.merged is None:
        return
    from bot.github.delivery import deliver_run  # githubkit loads only when it is needed

    progress.stage("delivering", f"a draft pull request on {request.github_repository}")
    result = RunResult(
        run_id=request.output_dir.name,
        request=request,
        evaluations=list(outcome.evaluations),
        delivered=[outcome.merged],
    )
    outcome.notes += deliver_run(request, result, os.environ)
    outcome.pull_request = result.pull_request


def _copy_parts(parts: tuple[Proposal, ...], out: Path) -> list[Path]:
    """Copy each part's bundle files (patches, metadata, signatures, pin record) to ``out``."""
    copied: list[Path] = []
    for part in parts:
        metadata = Path(part.origin)
        stem = metadata.name.removesuffix(".json")
        for source in sorted(metadata.parent.glob(f"{stem}.*")):
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
