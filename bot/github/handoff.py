"""A run order's trip from the webhook server to a workflow run, as ``repository_dispatch``.

The server answers GitHub within seconds, so it does not run anything long: it checks the
commenter, reacts 👀 and sends the order to the installed repository as a
``repository_dispatch`` event of type :data:`EVENT_TYPE`. The workflow that receives it
runs ``selfimprove action``, which reads the order back from ``client_payload``.

The command travels as the comment line itself and is parsed again on arrival, so the
grammar has one definition and a payload cannot carry a command the grammar refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.errors import UserError
from bot.github.commands import Command, parse_comment
from bot.github.comments import RunOrder

EVENT_TYPE = "selfimprove-run"


def to_payload(order: RunOrder) -> dict[str, object]:
    """The ``client_payload`` that carries ``order`` to the workflow."""
    return {
        "line": order.command.line,
        "repository": order.repository,
        "issue_number": order.issue_number,
        "comment_id": order.comment_id,
        "user": order.user,
        "pull_request": bool(order.pull_request),
    }


def from_payload(payload: Mapping[str, Any]) -> RunOrder:
    """Read an order back from a ``repository_dispatch`` event's ``client_payload``."""
    line = payload.get("line")
    repository = payload.get("repository")
    user = payload.get("user")
    numbers = [payload.get("issue_number"), payload.get("comment_id")]
    if not (isinstance(line, str) and isinstance(repository, str) and isinstance(user, str)):
        raise UserError("the dispatch payload lacks the command line, repository or user")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in numbers):
        raise UserError("the dispatch payload lacks a valid issue number or comment id")
    command = parse_comment(line)
    if not isinstance(command, Command) or command.kind != "improve":
        raise UserError(f"the dispatch payload does not hold an /improve command: {line[:80]!r}")
    return RunOrder(
        command=command,
        repository=repository,
        issue_number=int(str(numbers[0])),
        comment_id=int(str(numbers[1])),
        user=user,
        pull_request=payload.get("pull_request") is True,
    )
