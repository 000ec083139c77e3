"""The "selfimprove dashboard" issue: what is open, waiting and declined, in one place.

One issue, found by its label, updated in place. Its body is Markdown for people (a
checkbox per waiting change: tick it and the next run opens exactly that pull request;
a checkbox per declined change: tick it to let the bot propose it again) and a hidden
state for the bot (waiting changes' branches, titles and bodies; un-declined keys).
Reading is one ETag-cached request; writing is at most one request per run, and none
when nothing but the last run's numbers would change.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.github import pulls
from bot.github.client import GitHubClient, GitHubUnavailable, IssueRef, RequestRefused
from bot.report.results import PullRef

TITLE = "selfimprove dashboard"
LABEL = "selfimprove:dashboard"
MARKER = "<!-- selfimprove:dashboard -->"
MAX_WAITING = 10  # each keeps its compressed body in the state; GitHub caps bodies at 65,536
_STATE = re.compile(r"<!-- selfimprove:state ([A-Za-z0-9+/=]+) -->")
_TICKED = re.compile(r"^\s*[-*] \[[xX]\] .*<!-- (wait|declined):(\w+) -->\s*$", re.MULTILINE)
_LAST_RUN = "## Last run"


@dataclass(frozen=True)
class Waiting:
    """A would-be pull request held back; its branch is pushed, so a tick only opens it."""

    key: str
    branch: str
    title: str
    body: str
    reason: str
    labels: tuple[str, ...]


@dataclass
class State:
    """What the dashboard shows, and what the bot needs to act on a ticked box."""

    open: list[tuple[int, str, str]] = field(default_factory=list)  # number, title, url
    waiting: list[Waiting] = field(default_factory=list)
    declined: dict[str, str] = field(default_factory=dict)  # key -> label
    undeclined: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Board:
    """The dashboard as read: its issue (``None`` before the first write) and state."""

    issue: IssueRef | None
    state: State

    def ticked(self) -> tuple[set[str], set[str]]:
        """Waiting keys and declined keys whose boxes are ticked."""
        body = self.issue.body if self.issue else ""
        waiting = {key for kind, key in _TICKED.findall(body) if kind == "wait"}
        declined = {key for kind, key in _TICKED.findall(body) if kind == "declined"}
        return waiting, declined


def open_pulls(pulls: list[PullRef]) -> list[tuple[int, str, str]]:
    """The dashboard's rows for open pull requests."""
    return sorted((p.number, p.title, p.url) for p in pulls if p.state == "open")


def render(state: State, numbers: Mapping[str, object]) -> str:
    """The issue body: the sections people read, then the hidden state."""
    lines = [
        MARKER,
        "selfimprove keeps this issue up to date. Tick a box: the next run acts on it.",
        "",
        "## Open pull requests",
        "",
    ]
    lines += [f"- #{n} [{title}]({url})" for n, title, url in state.open] or ["None."]
    lines += ["", "## Waiting", ""]
    lines += [f"- [ ] {w.title}: {w.reason}. <!-- wait:{w.key} -->" for w in state.waiting] or [
        "None."
    ]
    lines += ["", "## Declined", ""]
    lines += [
        f"- [ ] {label}: tick to let selfimprove propose it again. <!-- declined:{key} -->"
        for key, label in sorted(state.declined.items())
        if key not in state.undeclined
    ] or ["None."]
    lines += ["", _LAST_RUN, ""]
    lines += [f"- {name}: {value}" for name, value in numbers.items()]
    lines += ["", f"<!-- selfimprove:state {_encode(state)} -->", ""]
    return "\n".join(lines)


def parse_state(body: str) -> State:
    """The hidden state of a dashboard body (an empty state if missing or unreadable)."""
    found = _STATE.search(body or "")
    if found is None:
        return State()
    try:
        data = json.loads(zlib.decompress(base64.b64decode(found[1])))
        return State(
            open=[(int(n), str(t), str(u)) for n, t, u in data.get("open", ())],
            waiting=[_waiting(w) for w in data.get("waiting", ())],
            declined={str(k): str(v) for k, v in dict(data.get("declined", {})).items()},
            undeclined={str(k) for k in data.get("undeclined", ())},
        )
    except (ValueError, TypeError, KeyError, zlib.error):
        return State()


def substance(body: str) -> str:
    """The body without the last run's numbers: a change here is worth a write."""
    head, _, tail = body.partition(_LAST_RUN)
    state = _STATE.search(tail)
    return head + (state[0] if state else "")


def read(client: GitHubClient) -> Board:
    """The dashboard issue and its state: one request (a 304 when nothing changed)."""
    issue = client.find_issue(LABEL)
    return Board(issue, parse_state(issue.body) if issue else State())


def write(client: GitHubClient, board: Board, state: State, numbers: Mapping[str, object]) -> bool:
    """Create or update the dashboard when its substance changed; ``True`` if it wrote."""
    body = render(state, numbers)
    if board.issue is None:
        if not state.open and not state.waiting and not state.declined:
            return False  # nothing worth an issue yet
        client.create_issue(title=TITLE, body=body, labels=[LABEL])
        return True
    if substance(body) == substance(board.issue.body):
        return False
    client.update_issue(board.issue.number, body=body)
    return True


def open_waiting(client: GitHubClient, waiting: Waiting) -> PullRef:
    """Open the pull request of a ticked waiting change from its already pushed branch."""
    base = client.default_branch()
    try:
        return client.create_pull(
            title=waiting.title, head=waiting.branch, base=base, body=waiting.body, draft=True
        )
    except RequestRefused as refused:
        if refused.status != 422 or "draft" not in refused.message.lower():
            raise GitHubUnavailable(f"GitHub refused the pull request: {refused.message}") from None
    pull = client.create_pull(
        title=waiting.title, head=waiting.branch, base=base, body=waiting.body, draft=False
    )
    client.add_labels(pull.number, [pulls.LABEL])
    return pull


def act_on_ticks(client: GitHubClient, issue: IssueRef) -> list[PullRef]:
    """``selfimprove serve``'s answer to a dashboard edit: open what was ticked, un-decline.

    Only API calls (the branches were pushed when the changes were held), so no project
    code runs on the webhook host. The dashboard is rewritten once, with the boxes gone.
    """
    if MARKER not in issue.body:
        return []
    board = Board(issue, parse_state(issue.body))
    waiting_keys, declined_keys = board.ticked()
    if not waiting_keys and not declined_keys:
        return []
    state = board.state
    opened = [open_waiting(client, w) for w in state.waiting if w.key in waiting_keys]
    after = State(
        open=sorted({*state.open, *((p.number, p.title, p.url) for p in opened)}),
        waiting=[w for w in state.waiting if w.key not in waiting_keys],
        declined={k: v for k, v in state.declined.items() if k not in declined_keys},
        undeclined=state.undeclined | declined_keys,
    )
    client.update_issue(issue.number, body=render(after, last_numbers(issue.body)))
    return opened


def last_numbers(body: str) -> dict[str, str]:
    """The "Last run" lines of a dashboard body, to keep them when only boxes changed."""
    _, _, tail = body.partition(_LAST_RUN)
    found = re.findall(r"^- ([^:\n]+): (.*)$", tail.split("<!--", 1)[0], re.MULTILINE)
    return dict(found)


def _encode(state: State) -> str:
    data = {
        "open": state.open,
        "waiting": [asdict(w) for w in state.waiting[:MAX_WAITING]],
        "declined": dict(sorted(state.declined.items())),
        "undeclined": sorted(state.undeclined),
    }
    packed = zlib.compress(json.dumps(data, sort_keys=True).encode(), 9)
    return base64.b64encode(packed).decode()


def _waiting(data: Mapping[str, Any]) -> Waiting:
    return Waiting(
        key=str(data["key"]),
        branch=str(data["branch"]),
        title=str(data["title"]),
        body=str(data["body"]),
        reason=str(data["reason"]),
        labels=tuple(str(x) for x in data.get("labels", ())),
    )
