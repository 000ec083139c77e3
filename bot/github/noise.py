"""The noise policy: which accepted changes become pull requests now, wait, or stay silent.

Pure functions over data (no GitHub, no git): the caller gathers the facts (the changes
with their keys and impact, what maintainers declined, what is open, what they ticked) and
acts on the :class:`Plan`. Order of the questions, per change then per pull request:

1. silenced: a ``# selfimprove: skip`` mark, a declined key (not un-declined), or a
   function a merged selfimprove change wrote (unless ``force``): never proposed;
2. below the impact floor: waits on the dashboard, per target;
3. grouped (``run``, ``target``, ``file``) into would-be pull requests;
4. a pull request already open for the branch is updated; a ticked box opens; with
   ``pr-creation = "approval"`` the rest wait; then the caps (open, per day) hold the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bot.core.candidate import Candidate
from bot.core.request import NoiseControl, TargetSpec
from bot.core.source_marks import source_hash
from bot.report.impact import Impact, percent
from bot.report.results import Delivered

_VERSION_TAIL = re.compile(r"([-_@](\d{4}-?\d{2}-?\d{2}|latest|preview|v\d+))+$", re.IGNORECASE)


def family(candidate: Candidate) -> str:
    """What a declined change is remembered by besides its function: the rule, or model family.

    A codemod's rule names the rewrite; a model's change is remembered per model family
    (``gpt-4o-2024-08-06`` and ``gpt-4o`` are one family).
    """
    model = candidate.provenance.get("model")
    if not model:
        return f"rule:{candidate.rule}"
    provider = candidate.provenance.get("provider", "")
    return f"model:{provider}:{_VERSION_TAIL.sub('', model.lower()) or model.lower()}"


def change_key(function_text: str, family_name: str) -> str:
    """The memory key: the hash of the target function's source text plus the family."""
    return source_hash(f"{function_text}\0{family_name}")


@dataclass(frozen=True)
class Change:
    """One accepted change as the policy sees it."""

    delivered: Delivered
    key: str
    before: str  # hash of the function's source on the base commit
    after: str  # hash of its source with the change ("" when it could not be worked out)
    impact: Impact
    skip: str | None = None  # the maintainer's skip mark, if any

    @property
    def target(self) -> str:
        return self.delivered.evaluation.candidate.target.key

    @property
    def file(self) -> str:
        return self.delivered.evaluation.candidate.target.file

    @property
    def label(self) -> str:
        candidate = self.delivered.evaluation.candidate
        speed = f"{self.impact.speedup:.2f}x" if self.impact.speedup else "no speed-up"
        return (
            f"`{candidate.target.key}` ({candidate.rule}, {candidate.generator}): {speed}, "
            f"expected gain {percent(self.impact.gain)}"
        )


@dataclass
class Memory:
    """What maintainers decided before: declined keys, merged results, boxes un-declined."""

    declined: dict[str, str] = field(default_factory=dict)  # key -> label
    merged_after: set[str] = field(default_factory=set)  # source hashes merged changes wrote
    undeclined: set[str] = field(default_factory=set)

    def is_declined(self, key: str) -> bool:
        return key in self.declined and key not in self.undeclined

    def merge(self, other: Memory) -> Memory:
        """Both memories together (GitHub's and the local one)."""
        return Memory(
            {**other.declined, **self.declined},
            self.merged_after | other.merged_after,
            self.undeclined | other.undeclined,
        )


@dataclass(frozen=True)
class Proposal:
    """One would-be pull request: its changes and the targets its branch is named after."""

    changes: tuple[Change, ...]
    scope: tuple[TargetSpec, ...] | None  # None: the run's own targets (``group = "run"``)

    @property
    def key(self) -> str:
        return source_hash("\n".join(sorted(c.key for c in self.changes)))


@dataclass(frozen=True)
class Situation:
    """What GitHub says now: open bot branches, PRs opened today, boxes ticked."""

    open_branches: frozenset[str] = frozenset()
    opened_today: int = 0
    approved: frozenset[str] = frozenset()  # proposal keys whose box is ticked


@dataclass(frozen=True)
class Held:
    proposal: Proposal
    reason: str


@dataclass(frozen=True)
class Silenced:
    change: Change
    reason: str


@dataclass
class Plan:
    """What to do: open (or update) these, list those as waiting, say nothing of the rest."""

    to_open: list[Proposal] = field(default_factory=list)
    waiting: list[Held] = field(default_factory=list)
    silenced: list[Silenced] = field(default_factory=list)


def silence_reason(change: Change, memory: Memory, force: bool) -> str | None:
    """Why ``change`` must never be proposed, or ``None``."""
    if change.skip:
        return change.skip
    if memory.is_declined(change.key):
        return "a maintainer declined this change to this function source"
    if not force and change.before in memory.merged_after:
        return "the function is the result of a merged selfimprove change (--force to retry)"
    return None


def group(changes: Iterable[Change], mode: str) -> list[Proposal]:
    """Would-be pull requests: the whole run, one per target function, or one per file."""
    listed = list(changes)
    if not listed:
        return []
    if mode == "run":
        return [Proposal(tuple(listed), None)]
    buckets: dict[str, list[Change]] = {}
    for change in listed:
        buckets.setdefault(change.target if mode == "target" else change.file, []).append(change)
    return [Proposal(tuple(members), _scope(members, mode)) for members in buckets.values()]


def plan(
    changes: Sequence[Change],
    settings: NoiseControl,
    memory: Memory,
    situation: Situation,
    branch_of: Callable[[Proposal], str],
) -> Plan:
    """Decide, for this run's accepted changes, what opens, what waits and what stays silent."""
    result = Plan()
    live: list[Change] = []
    low: list[Change] = []
    for change in changes:
        reason = silence_reason(change, memory, settings.force)
        if reason is not None:
            result.silenced.append(Silenced(change, reason))
        elif change.impact.meets(settings.min_impact):
            live.append(change)
        else:
            low.append(change)
    open_now = len(situation.open_branches)
    opened = 0
    floor = f"below the impact floor of {percent(settings.min_impact)}"
    candidates: list[tuple[Proposal, str | None]] = [(p, None) for p in group(live, settings.group)]
    candidates += [(p, floor) for p in group(low, "target")]
    for proposal, held in candidates:
        branch = branch_of(proposal)
        if branch in situation.open_branches or proposal.key in situation.approved:
            result.to_open.append(proposal)
            continue
        reason = held or _held_by(settings, open_now + opened, situation.opened_today + opened)
        if reason is not None:
            result.waiting.append(Held(proposal, reason))
            continue
        result.to_open.append(proposal)
        opened += 1
    return result


def _held_by(settings: NoiseControl, open_count: int, today: int) -> str | None:
    if settings.pr_creation == "approval":
        return "waiting for approval: tick its box"
    if open_count >= settings.max_open_prs:
        return f"held by max-open-prs ({open_count} open)"
    if settings.max_prs_per_day is not None and today >= settings.max_prs_per_day:
        return f"held by max-prs-per-day ({today} opened today)"
    return None


def _scope(members: Sequence[Change], mode: str) -> tuple[TargetSpec, ...]:
    target = members[0].delivered.evaluation.candidate.target
    if mode == "target":
        return (TargetSpec(target.file, target.qualname),)
    return (TargetSpec(target.file),)
