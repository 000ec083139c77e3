"""Comment commands end to end: a real issue_comment payload, the real client, the stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.github.client import GitHubClient
from bot.github.commands import HELP
from bot.github.comments import REPLY_MARKER, RunOrder, finish, handle_comment
from tests.github.rest_standin import GitHubStandIn, RecordedSleep

REPO = "octo/demo"
COMMENTS = "/repos/octo/demo/issues/7/comments"
REACTIONS = "/repos/octo/demo/issues/comments/555/reactions"


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as server:
        repo = server.add_repo(REPO, private=True)
        repo.permissions.update(
            {
                "wanda": "write",
                "mia": "maintain",
                "rita": "read",
                "olga": "read",
                "ci-helper[bot]": "write",
                "rogue[bot]": "write",
            }
        )
        yield server


@pytest.fixture
def client(gh: GitHubStandIn) -> GitHubClient:
    return GitHubClient.from_env(
        REPO, {"GITHUB_TOKEN": gh.token}, api_url=gh.url, sleep=RecordedSleep()
    )


def payload(
    body: str,
    login: str,
    *,
    association: str = "CONTRIBUTOR",
    kind: str = "User",
    action: str = "created",
    on_pull: bool = False,
) -> dict[str, Any]:
    """An ``issue_comment`` delivery shaped like GitHub's (trimmed to what matters)."""
    user = {"login": login, "id": 90210, "type": kind, "site_admin": False}
    issue: dict[str, Any] = {
        "number": 7,
        "title": "Slow tokenizer",
        "state": "open",
        "user": {"login": "someone", "id": 1, "type": "User"},
        "author_association": "OWNER",
    }
    if on_pull:
        issue["pull_request"] = {"url": "https://api.github.com/repos/octo/demo/pulls/7"}
    return {
        "action": action,
        "issue": issue,
        "comment": {
            "id": 555,
            "body": body,
            "user": user,
            "author_association": association,
            "html_url": "https://github.com/octo/demo/issues/7#issuecomment-555",
        },
        "repository": {
            "id": 1,
            "full_name": REPO,
            "private": True,
            "owner": {"login": "octo", "type": "Organization"},
        },
        "sender": user,
    }


def replies(gh: GitHubStandIn) -> list[str]:
    return [json.loads(r.body)["body"] for r in gh.requests if r.path == COMMENTS]


def reactions(gh: GitHubStandIn) -> list[str]:
    return [json.loads(r.body)["content"] for r in gh.requests if r.path == REACTIONS]


def test_a_writer_gets_eyes_at_once_and_an_order(gh: GitHubStandIn, client: GitHubClient) -> None:
    body = "Could you look at this?\n/improve src/pkg/tok.py --method adversarial --budget 3"
    order = handle_comment(payload(body, "wanda", on_pull=True), client)
    assert isinstance(order, RunOrder)
    assert (order.repository, order.issue_number, order.comment_id, order.user) == (
        REPO,
        7,
        555,
        "wanda",
    )
    assert order.command.paths == ("src/pkg/tok.py",) and order.command.method == "adversarial"
    assert order.command.budget == 3 and order.pull_request
    assert reactions(gh) == ["eyes"] and replies(gh) == []
    assert gh.count("GET", "/repos/octo/demo/collaborators/wanda/permission") == 1


def test_a_maintainer_may_command_too(gh: GitHubStandIn, client: GitHubClient) -> None:
    assert handle_comment(payload("/improve", "mia", association="MEMBER"), client) is not None


def test_a_read_user_is_refused_with_a_short_reply(gh: GitHubStandIn, client: GitHubClient) -> None:
    assert handle_comment(payload("/improve", "rita", association="NONE"), client) is None
    [reply] = replies(gh)
    assert "write access" in reply and "`read`" in reply and "@rita" in reply
    assert reactions(gh) == []


def test_a_private_org_member_shown_as_contributor_is_judged_by_permission(
    gh: GitHubStandIn, client: GitHubClient
) -> None:
    # author_association says CONTRIBUTOR for private members whatever their role: the
    # permission endpoint decides, both ways.
    assert handle_comment(payload("/improve", "olga", association="CONTRIBUTOR"), client) is None
    assert "`read`" in replies(gh)[0]
    order = handle_comment(payload("/improve", "wanda", association="CONTRIBUTOR"), client)
    assert order is not None and reactions(gh) == ["eyes"]


def test_a_stranger_on_a_private_repository_has_no_permission(
    gh: GitHubStandIn, client: GitHubClient
) -> None:
    assert handle_comment(payload("/improve", "mallory", association="NONE"), client) is None
    assert "`none`" in replies(gh)[0]


def test_bots_are_refused_unless_allow_listed(gh: GitHubStandIn, client: GitHubClient) -> None:
    assert handle_comment(payload("/improve", "rogue[bot]", kind="Bot"), client) is None
    assert "bots" in replies(gh)[0]
    assert not any("permission" in r.path for r in gh.requests)
    allowed = frozenset({"ci-helper[bot]"})
    order = handle_comment(
        payload("/improve", "ci-helper[bot]", kind="Bot"), client, allowed_bots=allowed
    )
    assert order is not None and reactions(gh) == ["eyes"]


def test_help_is_answered_for_anyone_without_a_permission_check(
    gh: GitHubStandIn, client: GitHubClient
) -> None:
    assert handle_comment(payload("/improve help", "mallory"), client) is None
    assert replies(gh) == [f"{REPLY_MARKER}\n@mallory {HELP}"]
    assert [r.method for r in gh.requests] == ["POST"]


def test_a_malformed_command_gets_the_problem_and_the_help(
    gh: GitHubStandIn, client: GitHubClient
) -> None:
    assert handle_comment(payload("/improve --budget lots", "wanda"), client) is None
    [reply] = replies(gh)
    assert "`--budget` must be a positive whole number" in reply and HELP in reply
    assert reactions(gh) == []


def test_status_lists_the_open_selfimprove_pull_requests(
    gh: GitHubStandIn, client: GitHubClient
) -> None:
    repo = gh.repos[REPO]
    for number, head in ((3, "selfimprove/tok-1a2b3c4d"), (4, "feature/other")):
        repo.pulls.append(
            {
                "number": number,
                "id": number,
                "state": "open",
                "title": f"t{number}",
                "body": "",
                "draft": True,
                "head": head,
                "head_sha": "1" * 40,
                "base": "main",
                "user": "x",
            }
        )
    assert handle_comment(payload("/improve status", "rita"), client) is None
    [reply] = replies(gh)
    assert "#3 (draft) t3 (selfimprove/tok-1a2b3c4d)" in reply and "#4" not in reply


def test_comments_without_a_command_edits_and_our_own_replies_are_ignored(
    gh: GitHubStandIn, client: GitHubClient
) -> None:
    ignored = [
        payload("thanks! maybe /improve later", "wanda"),
        payload("```\n/improve\n```", "wanda"),
        payload("/improve", "wanda", action="edited"),
        payload(f"{REPLY_MARKER}\n/improve", "selfimprove[bot]", kind="Bot"),
    ]
    for event in ignored:
        assert handle_comment(event, client) is None
    assert gh.requests == []


def test_finish_reacts_and_replies(gh: GitHubStandIn, client: GitHubClient) -> None:
    order = handle_comment(payload("/improve", "wanda"), client)
    assert order is not None
    finish(order, client, ok=True, text="Opened https://github.com/octo/demo/pull/9")
    finish(order, client, ok=False, text="No change passed the gates.")
    assert reactions(gh) == ["eyes", "rocket", "confused"]
    assert [r.split("\n", 1)[1] for r in replies(gh)] == [
        "@wanda Opened https://github.com/octo/demo/pull/9",
        "@wanda No change passed the gates.",
    ]


def test_a_bot_gets_one_refusal_even_for_help_or_a_malformed_command(
    gh: GitHubStandIn, client: GitHubClient
) -> None:
    for body in ("/improve help", "/improve --nope"):
        assert handle_comment(payload(body, "rogue[bot]", kind="Bot"), client) is None
    assert all("bots" in reply for reply in replies(gh)) and len(replies(gh)) == 2
