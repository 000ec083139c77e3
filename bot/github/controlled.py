"""A run's pull requests under the noise policy: caps, memory, impact floor, grouping, dashboard.

Called by the delivery step once the bundle is on disk. In request terms: one read of
recent pull requests (memory and caps), one read of the dashboard, then per pull request
opened the usual delivery (default branch, look-up, create), and at most one dashboard
write. A run with nothing new (every change silenced, already open or already waiting)
makes no write request at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import git

from bot.core.diffs import apply_to_text
from bot.core.request import Request
from bot.core.source_marks import function_source, skip_reason, source_hash
from bot.github import dashboard, memory, noise, pulls
from bot.github.client import GitHubClient, GitHubUnavailable
from bot.github.delivery import deliver_pull_request, push_changes, split_allowed, with_client
from bot.report.impact import impact_line, impact_of, impact_section
from bot.report.results import Delivered, PullRef, RunResult
from bot.report.stats import record_events


@dataclass
class Outcome:
    """What the policy did in one run."""

    opened: list[PullRef] = field(default_factory=list)
    waiting: list[noise.Held] = field(default_factory=list)
    silenced: list[noise.Silenced] = field(default_factory=list)
    dashboard_written: bool = False
    lines: list[str] = field(default_factory=list)


def deliver_controlled(
    request: Request,
    result: RunResult,
    env: Mapping[str, str],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """The delivery step's GitHub part; never raises :class:`GitHubUnavailable`.

    With the dashboard on, a run without accepted changes still reads it (two requests),
    so a box ticked since the last run is acted on.
    """
    wanted = result.delivered or request.noise.dashboard
    if request.dry_run or not wanted or request.github_repository is None:
        return []

    def act(client: GitHubClient) -> list[str]:
        return control(request, result, client).lines

    return with_client(request, result, env, act, sleep=sleep)


def control(
    request: Request, result: RunResult, client: GitHubClient, *, remote: str | None = None
) -> Outcome:
    """Decide and act: open, update or hold each would-be pull request; keep the dashboard."""
    settings = request.noise
    outcome = Outcome()
    local, seen = memory.load(request.home)
    recent = client.recent_pulls()
    ours = [p for p in recent if pulls.is_ours(p.body)]
    board = dashboard.Board(None, dashboard.State())
    if settings.dashboard:
        board = dashboard.read(client)
    ticked_waiting, ticked_declined = board.ticked()
    remembered = memory.memory_from(ours).merge(local)
    remembered.undeclined |= board.state.undeclined | ticked_declined
    allowed, left_out = split_allowed(result.delivered)
    changes = [describe(request, change) for change in allowed]
    open_pulls = [p for p in ours if p.state == "open"]
    situation = noise.Situation(
        open_branches=frozenset(p.head for p in open_pulls),
        opened_today=sum(1 for p in ours if p.created_at.startswith(_today())),
        approved=frozenset(ticked_waiting),
    )
    outcome.lines += [f"not proposed: {item.change.patch.name}: {item.reason}" for item in left_out]

    def branch_of(proposal: noise.Proposal) -> str:
        return pulls.branch_name(_scoped(request, proposal))

    decided = noise.plan(changes, settings, remembered, situation, branch_of)
    outcome.silenced = decided.silenced
    known = {w.key: w for w in board.state.waiting}
    open_keys = {p.head: {c.get("key") for c in memory.changes_in(p.body)} for p in open_pulls}
    for proposal in decided.to_open:
        branch = branch_of(proposal)
        if open_keys.get(branch) == {c.key for c in proposal.changes}:
            continue  # open already with exactly these changes: nothing new
        pull = _open(request, result, client, proposal, remote)
        outcome.opened.append(pull)
        known.pop(proposal.key, None)
    for key in ticked_waiting & known.keys():
        outcome.opened.append(dashboard.open_waiting(client, known.pop(key)))
    new_waiting = []
    for held in decided.waiting:
        if held.proposal.key in known:
            continue  # listed already: nothing new
        new_waiting.append(_hold(request, result, client, held, remote))
        outcome.waiting.append(held)
    state = dashboard.State(
        open=dashboard.open_pulls([*open_pulls, *outcome.opened]),
        waiting=(new_waiting + list(known.values()))[: dashboard.MAX_WAITING],
        declined={k: v for k, v in remembered.declined.items() if k not in remembered.undeclined},
        undeclined=remembered.undeclined,
    )
    if settings.dashboard:
        outcome.dashboard_written = dashboard.write(client, board, state, _numbers(result, outcome))
    events = memory.pull_events([*ours, *outcome.opened], seen)
    record_events(request.home, result.run_id, events)
    memory.save(request.home, remembered, seen)
    outcome.lines = _lines(outcome) + outcome.lines
    if outcome.opened:
        result.pull_request = outcome.opened[-1]
    return outcome


def describe(request: Request, delivered: Delivered) -> noise.Change:
    """The policy's view of a change: its memory key, source hashes, impact and skip mark."""
    candidate = delivered.evaluation.candidate
    path = request.repo_relative(candidate.target.file)
    try:
        text = git.Repo(request.repo_root).git.show(f"{request.base_commit}:{path}")
        text += "\n"
    except git.GitCommandError:
        text = ""
    before = function_source(text, candidate.target.qualname) or ""
    changed = apply_to_text(candidate.diff, path, text)
    after = function_source(changed, candidate.target.qualname) if changed else None
    return noise.Change(
        delivered=delivered,
        key=noise.change_key(before, noise.family(candidate)),
        before=source_hash(before),
        after=source_hash(after) if after else "",
        impact=impact_of(delivered.evaluation),
        skip=skip_reason(text, candidate.target.qualname),
    )


def preface(result: RunResult, proposal: noise.Proposal) -> list[str]:
    """What a pull request body opens with: the impact of each change, then hidden markers."""
    pinned = {t.target.key: t.captured_calls for t in result.targets}
    lines = [impact_line(c.delivered.evaluation, pinned.get(c.target)) for c in proposal.changes]
    return [*impact_section(lines), *(memory.change_marker(c) for c in proposal.changes)]


def _scoped(request: Request, proposal: noise.Proposal) -> Request:
    return request if proposal.scope is None else replace(request, targets=proposal.scope)


def _subset(result: RunResult, proposal: noise.Proposal) -> RunResult:
    return replace(result, delivered=[c.delivered for c in proposal.changes])


def _open(
    request: Request,
    result: RunResult,
    client: GitHubClient,
    proposal: noise.Proposal,
    remote: str | None,
) -> PullRef:
    return deliver_pull_request(
        _scoped(request, proposal),
        _subset(result, proposal),
        client,
        remote=remote,
        preface=preface(result, proposal),
    )


def _hold(
    request: Request,
    result: RunResult,
    client: GitHubClient,
    held: noise.Held,
    remote: str | None,
) -> dashboard.Waiting:
    """Push the held pull request's branch (git, no API request) and describe it for later."""
    scoped = _scoped(request, held.proposal)
    branch = pulls.branch_name(scoped)
    sub = _subset(result, held.proposal)
    committed, left_out = push_changes(scoped, result.run_id, sub.delivered, branch, client, remote)
    if not committed:
        raise GitHubUnavailable("no held change applied on the base commit")
    body = pulls.body(
        scoped, sub, committed, branch, left_out=left_out, preface=preface(result, held.proposal)
    )
    return dashboard.Waiting(
        key=held.proposal.key,
        branch=branch,
        title=pulls.title(committed),
        body=body,
        reason=held.reason,
        labels=tuple(c.label for c in held.proposal.changes),
    )


def _numbers(result: RunResult, outcome: Outcome) -> dict[str, object]:
    return {
        "run": f"`{result.run_id}` on `{result.request.base_commit[:12]}`",
        "candidates": len(result.evaluations),
        "accepted": len(result.accepted),
        "pull requests opened": len(outcome.opened),
        "newly waiting": len(outcome.waiting),
        "silenced": len(outcome.silenced),
    }


def _lines(outcome: Outcome) -> list[str]:
    lines = [
        f"{'draft ' if p.draft else ''}pull request #{p.number}: {p.url}" for p in outcome.opened
    ]
    lines += [
        f"waiting on the dashboard: {h.proposal.changes[0].label}: {h.reason}"
        for h in outcome.waiting
    ]
    lines += [f"not proposed: {s.change.label}: {s.reason}" for s in outcome.silenced]
    if outcome.dashboard_written:
        lines.append("dashboard updated")
    return lines


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")
