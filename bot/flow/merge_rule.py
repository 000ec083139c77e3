"""The merge rule (issues #4 and #5): several accepted changes become one, where they can.

Changes that touch the same lines cannot both ship: of two overlapping changes the one
with the larger measured speed-up stays. A hunk covers its context lines too, and hunks
that merely touch (one ends on the line before the other starts) count as overlapping,
so every kept change still applies on its own and no change edits another's context.
The changes that stay are combined into one diff against the same base, and that whole
must pass the gates again (:func:`regate`): parts that pass alone can still fail together.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from unidiff.patch import Hunk, PatchedFile, PatchSet

from bot.core.candidate import Candidate
from bot.core.diffs import make_diff
from bot.core.errors import UserError
from bot.core.evaluation import Evaluation

MERGED_RULE = "merged"


@dataclass(frozen=True)
class Proposal:
    """An accepted change offered for merging, its measured speed-up, and where it came from."""

    candidate: Candidate
    speedup: float
    origin: str = ""


@dataclass(frozen=True)
class Span:
    """The base lines ``first..last`` (1-based, inclusive) a hunk covers in ``path``."""

    path: str
    first: int
    last: int

    def meets(self, other: Span) -> bool:
        """Overlapping or adjacent spans of the same file."""
        return (
            self.path == other.path
            and self.first <= other.last + 1
            and other.first <= self.last + 1
        )


@dataclass(frozen=True)
class Choice:
    """Which proposals stay (best first), and each one dropped with the one it lost to."""

    kept: tuple[Proposal, ...]
    dropped: tuple[tuple[Proposal, Proposal], ...]


def from_evaluations(evaluations: Iterable[Evaluation]) -> list[Proposal]:
    """The accepted evaluations of one run as proposals."""
    return [Proposal(e.candidate, e.speedup, e.candidate.id) for e in evaluations if e.accepted]


def spans(diff: str) -> tuple[Span, ...]:
    """Every hunk's base span; a file that is added, deleted or renamed is claimed whole."""
    found: list[Span] = []
    for patched in PatchSet(diff):
        path = _source_path(patched)
        if patched.is_added_file or patched.is_removed_file or _renamed(patched):
            found.append(Span(path, 0, sys.maxsize))
            found.append(Span(_target_path(patched), 0, sys.maxsize))
            continue
        for hunk in patched:
            last = hunk.source_start + max(hunk.source_length, 1) - 1
            found.append(Span(path, hunk.source_start, last))
    return tuple(found)


def overlap(a: Proposal, b: Proposal) -> bool:
    """Do two changes touch the same (or adjacent) base lines of some file?"""
    theirs = spans(b.candidate.diff)
    return any(mine.meets(other) for mine in spans(a.candidate.diff) for other in theirs)


def choose(proposals: Sequence[Proposal]) -> Choice:
    """Largest speed-up first; a proposal that overlaps one already kept is dropped.

    Ties are broken by the candidate's id, so the same proposals always give the same
    choice whatever order they arrive in. The same change offered twice counts once.
    """
    unique = {(p.candidate.target.key, p.candidate.diff_sha256): p for p in proposals}
    ordered = sorted(unique.values(), key=lambda p: (-p.speedup, p.candidate.id))
    kept: list[Proposal] = []
    dropped: list[tuple[Proposal, Proposal]] = []
    for proposal in ordered:
        winner = next((k for k in kept if overlap(proposal, k)), None)
        if winner is None:
            kept.append(proposal)
        else:
            dropped.append((proposal, winner))
    return Choice(tuple(kept), tuple(dropped))


def combine(proposals: Sequence[Proposal], base_text: Callable[[str], str]) -> str:
    """One diff against the base holding every (non-overlapping) proposal's hunks.

    Each modified file is rebuilt from its base text (``base_text(repo_path)``) with all
    hunks applied, then diffed again, so the result is an ordinary diff with fresh line
    numbers; added, deleted or renamed files are copied as they are. Files come in path
    order. Raises :class:`UserError` when a hunk does not match the base.
    """
    hunks: dict[str, list[tuple[Hunk, str]]] = {}
    verbatim: dict[str, str] = {}
    for proposal in proposals:
        for patched in PatchSet(proposal.candidate.diff):
            path = _source_path(patched)
            if patched.is_added_file or patched.is_removed_file or _renamed(patched):
                verbatim[path] = str(patched)
                continue
            hunks.setdefault(path, []).extend((h, proposal.candidate.id) for h in patched)
    sections = dict(verbatim)
    for path, found in hunks.items():
        base = base_text(path)
        sections[path] = make_diff(path, base, _apply(path, base, found))
    return "".join(sections[path] for path in sorted(sections))


def merged_candidates(proposals: Sequence[Proposal], diff: str) -> list[Candidate]:
    """The combined diff once per constituent target, best first, for the gates to judge.

    The performance gate measures one target per candidate, so the whole is proven by
    measuring every constituent's target with all the changes applied.
    """
    files = tuple(dict.fromkeys(f for p in proposals for f in p.candidate.files))
    methods = "+".join(sorted({p.candidate.method for p in proposals}))
    generators = "+".join(sorted({p.candidate.generator for p in proposals}))
    parts = "; ".join(
        f"{p.candidate.target.key} via {p.candidate.rule} ({p.speedup:.2f}x alone)"
        for p in proposals
    )
    description = f"Merged {len(proposals)} accepted changes, re-proven together: {parts}."
    provenance = {"merged": ",".join(p.candidate.id for p in proposals)}
    return [
        Candidate(
            target=p.candidate.target,
            diff=diff,
            files=files,
            method=methods,
            generator=generators,
            rule=MERGED_RULE,
            description=description,
            provenance=provenance,
        )
        for p in proposals
    ]


def regate(
    proposals: Sequence[Proposal], diff: str, evaluate: Callable[[Candidate], Evaluation]
) -> list[Evaluation]:
    """Run the combined diff through ``evaluate`` for each target; stop at the first refusal.

    The whole is accepted when every returned evaluation is accepted and there is one per
    proposal (:func:`whole_accepted`).
    """
    evaluations: list[Evaluation] = []
    for candidate in merged_candidates(proposals, diff):
        evaluations.append(evaluate(candidate))
        if not evaluations[-1].accepted:
            break
    return evaluations


def whole_accepted(proposals: Sequence[Proposal], evaluations: Sequence[Evaluation]) -> bool:
    return len(evaluations) == len(proposals) and all(e.accepted for e in evaluations)


def _apply(path: str, base: str, hunks: list[tuple[Hunk, str]]) -> str:
    """``base`` with non-overlapping hunks applied, checking each against the base lines."""
    lines = base.splitlines(keepends=True)
    out: list[str] = []
    position = 0  # lines of the base already copied or replaced
    for hunk, origin in sorted(hunks, key=lambda item: item[0].source_start):
        old, new = _sides(hunk)
        start = hunk.source_start - 1 if hunk.source_length else hunk.source_start
        if start < position or lines[start : start + len(old)] != old:
            raise UserError(
                f"{origin} does not apply to the base of {path} at line {hunk.source_start}"
            )
        out.extend(lines[position:start])
        out.extend(new)
        position = start + len(old)
    out.extend(lines[position:])
    return "".join(out)


def _sides(hunk: Hunk) -> tuple[list[str], list[str]]:
    """The base and the changed lines of a hunk, newlines as in the files."""
    old: list[str] = []
    new: list[str] = []
    last: list[list[str]] = []
    for line in hunk:
        if line.line_type == "\\":  # "\ No newline at end of file" ends the line before it
            for side in last:
                side[-1] = side[-1].removesuffix("\n")
            continue
        last = []
        if line.is_context or line.is_removed:
            old.append(line.value)
            last.append(old)
        if line.is_context or line.is_added:
            new.append(line.value)
            last.append(new)
    return old, new


def _source_path(patched: PatchedFile) -> str:
    return _strip(patched.source_file if not patched.is_added_file else patched.target_file)


def _target_path(patched: PatchedFile) -> str:
    return _strip(patched.target_file if not patched.is_removed_file else patched.source_file)


def _renamed(patched: PatchedFile) -> bool:
    return _strip(patched.source_file) != _strip(patched.target_file)


def _strip(name: str) -> str:
    return name[2:] if name[:2] in ("a/", "b/") else name


@dataclass
class RunMerge:
    """One run's delivery after the merge rule: what ships, what the whole's proof said."""

    chosen: list[Evaluation]
    evaluations: list[Evaluation]
    notes: list[str]


def merge_same_files(
    chosen: Sequence[Evaluation],
    evaluate: Callable[[Candidate], Evaluation],
    base_text: Callable[[str], str],
) -> RunMerge:
    """Merge the run's chosen changes that share a file, and prove each whole again.

    Changes to different files ship as they are. Of a group that shares a file, overlapping
    changes keep the faster; the rest become one candidate that must pass the gates again.
    When the whole fails where its parts passed, only the fastest part ships: the parts
    are known to clash, so shipping them side by side (in one pull request) would be unsafe.
    """
    merged = RunMerge(chosen=[], evaluations=[], notes=[])
    for group in _sharing_a_file(chosen):
        if len(group) == 1:
            merged.chosen.extend(group)
            continue
        by_id = {e.candidate.id: e for e in group}
        choice = choose(from_evaluations(group))
        for loser, winner in choice.dropped:
            merged.notes.append(
                f"{loser.candidate.id} overlaps {winner.candidate.id}, which is faster "
                f"({loser.speedup:.2f}x < {winner.speedup:.2f}x): not shipped"
            )
        if len(choice.kept) == 1:
            merged.chosen.append(by_id[choice.kept[0].candidate.id])
            continue
        proof = regate(choice.kept, combine(choice.kept, base_text), evaluate)
        merged.evaluations.extend(proof)
        if whole_accepted(choice.kept, proof):
            merged.chosen.append(proof[0])
            merged.notes.append(
                f"merged {len(choice.kept)} changes to {', '.join(proof[0].candidate.files)} "
                "into one, proven again as a whole"
            )
            continue
        best = choice.kept[0]
        merged.chosen.append(by_id[best.candidate.id])
        failed = proof[-1].stopped_by
        why = f"{failed.gate}: {failed.reason}" if failed else "not every gate ran"
        merged.notes.append(
            f"the changes to {', '.join(proof[-1].candidate.files)} fail together ({why}) "
            f"although each passed alone: only the fastest, {best.candidate.id}, is shipped"
        )
    return merged


def _sharing_a_file(evaluations: Sequence[Evaluation]) -> list[list[Evaluation]]:
    """Groups of evaluations linked by a file they both change, in first-seen order."""
    groups: list[list[Evaluation]] = []
    for evaluation in evaluations:
        files = set(evaluation.candidate.files)
        linked = [g for g in groups if any(files & set(e.candidate.files) for e in g)]
        joined = [evaluation]
        for group in linked:
            joined = group + joined
            groups.remove(group)
        groups.append(joined)
    return groups
