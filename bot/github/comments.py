"""Comment commands: who may command the bot, and what it answers (bedevere style).

Pure routing with the client injected. ``handle_comment`` reads an ``issue_comment``
payload and either answers on its own (help, status, a malformed command, a refusal)
or, for a permitted ``/improve``, reacts 👀 at once and returns the order to run;
``finish`` closes the loop with 🚀 or 😕 and a reply.

Permission comes from ``GET /repos/{o}/{r}/collaborators/{user}/permission`` and never
from the payload's ``author_association``: a private organisation member shows there as
``CONTRIBUTOR`` whatever their role. Bots are refused unless allow-listed. Every reply
carries a hidden marker, and a comment carrying it is never read as a command, so the
bot cannot talk to itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.github.client import GitHubClient
from bot.github.commands import HELP, Command, Malformed, parse_comment
from bot.github.pulls import BRANCH_PREFIX

PERMITTED = frozenset({"admin", "maintain", "write"})
REPLY_MARKER = "<!-- selfimprove:reply -->"


@dataclass(frozen=True)
class RunOrder:
    """A permitted ``/improve`` to run; the comment already has its 👀."""

    command: Command
    repository: str
    issue_number: int
    comment_id: int
    user: str
    pull_request: bool = False  # the comment is on a pull request (its files are data only)


def handle_comment(
    event_payload: Mapping[str, Any],
    client: GitHubClient,
    *,
    allowed_bots: frozenset[str] = frozenset(),
) -> RunOrder | None:
    """The order to run, or ``None`` when the comment was answered (or ignored) here."""
    if event_payload.get("action") != "created":
        return None  # an edit or deletion never starts a run
    comment = event_payload.get("comment") or {}
    issue = event_payload.get("issue") or {}
    body = str(comment.get("body") or "")
    if REPLY_MARKER in body:
        return None
    parsed = parse_comment(body)
    if parsed is None:
        return None
    number, comment_id = issue.get("number"), comment.get("id")
    if not isinstance(number, int) or not isinstance(comment_id, int):
        return None  # not an issue_comment delivery after all
    user = comment.get("user") or {}
    login = str(user.get("login") or "")
    if user.get("type") == "Bot" and login not in allowed_bots:
        _reply(client, number, login, "I do not take commands from bots that are not allow-listed.")
        return None
    if isinstance(parsed, Malformed):
        _reply(client, number, login, parsed.reply)
        return None
    if parsed.kind == "help":
        _reply(client, number, login, HELP)
        return None
    if parsed.kind == "status":
        _reply(client, number, login, _status(client))
        return None
    role = client.permission(login)
    if role not in PERMITTED:
        _reply(
            client,
            number,
            login,
            f"Only people with write access to {client.repository} can run `/improve`; "
            f"your permission here is `{role}`.",
        )
        return None
    client.add_reaction(comment_id, "eyes")
    return RunOrder(
        command=parsed,
        repository=str(
            (event_payload.get("repository") or {}).get("full_name") or client.repository
        ),
        issue_number=number,
        comment_id=comment_id,
        user=login,
        pull_request="pull_request" in issue,
    )


def finish(order: RunOrder, client: GitHubClient, *, ok: bool, text: str) -> None:
    """🚀 or 😕 on the command, and a reply with the PR link, bundle CID or reason."""
    client.add_reaction(order.comment_id, "rocket" if ok else "confused")
    _reply(client, order.issue_number, order.user, text)


def _status(client: GitHubClient) -> str:
    open_pulls = client.open_pulls(BRANCH_PREFIX)
    if not open_pulls:
        return "No selfimprove pull request is open in this repository."
    lines = ["Open selfimprove pull requests:", ""]
    lines += [
        f"- #{p.number}{' (draft)' if p.draft else ''} {p.title} ({p.head})" for p in open_pulls
    ]
    return "\n".join(lines)


def _reply(client: GitHubClient, issue_number: int, user: str, text: str) -> str:
    mention = f"@{user} " if user else ""
    return client.create_comment(issue_number, f"{REPLY_MARKER}\n{mention}{text}")
