"""Draft PRs from accepted changes: the real client, the stand-in and a local bare remote."""

from __future__ import annotations

import json
import time
from pathlib import Path

import git
import pytest

from bot.core.worktree import registered_worktrees
from bot.github import pulls
from bot.github.client import GitHubClient, GitHubUnavailable
from bot.github.delivery import _auth_env, deliver_pull_request, deliver_run
from bot.github.governor import Governor
from bot.report.render import markdown
from tests.github.accepted import (
    MODULE,
    Project,
    clashing,
    make_project,
    membership,
    run_result,
    summing,
    workflow,
)
from tests.github.rest_standin import GitHubStandIn, RecordedSleep

PULLS = "/repos/octo/demo/pulls"


@pytest.fixture
def project(tmp_path: Path, gh: GitHubStandIn) -> Project:
    made = make_project(tmp_path)
    gh.add_repo("octo/demo", remote=made.remote)
    return made


def client(gh: GitHubStandIn, *, reserve: int = 100) -> GitHubClient:
    governor = Governor(time.time, reserve=reserve)
    return GitHubClient.from_env(
        "octo/demo",
        {"GITHUB_TOKEN": gh.token},
        api_url=gh.url,
        governor=governor,
        sleep=RecordedSleep(),
    )


def env(gh: GitHubStandIn) -> dict[str, str]:
    return {"GITHUB_TOKEN": gh.token, "GITHUB_API_URL": "http://127.0.0.1:9"}


def test_a_draft_pr_is_opened_from_an_accepted_change(project: Project, gh: GitHubStandIn) -> None:
    request = project.request
    user_head = git.Repo(project.root).head.commit.hexsha
    result = run_result(request, membership(request))
    pull = deliver_pull_request(request, result, client(gh))

    branch = pulls.branch_name(request)
    assert (pull.number, pull.draft, pull.head) == (1, True, branch)
    assert pull.url == "https://github.com/octo/demo/pull/1"
    created = json.loads(gh.requests[-1].body)
    assert (gh.requests[-1].method, gh.requests[-1].path) == ("POST", PULLS)
    assert created["draft"] is True and created["base"] == "main" and created["head"] == branch
    body = created["body"]
    assert body.startswith(pulls.MARKER) and pulls.is_ours(body)
    change = result.delivered[0]
    for fact in (
        change.patch_sha256,
        change.patch_cid,
        "| performance | pass |",
        "1.42x (CI 1.31-1.55",
        "50 recorded calls",
        "git revert --no-edit HEAD",
        "selfimprove verify",
    ):
        assert fact in body
    # the branch holds one commit on the base with exactly the accepted change
    tip = project.remote_sha(branch)
    assert tip is not None and gh.repos["octo/demo"].pulls[0]["head_sha"] == tip
    commit = git.Repo(project.remote).commit(tip)
    assert [p.hexsha for p in commit.parents] == [request.base_commit]
    assert commit.author.email == "selfimprove@users.noreply.github.com"
    text = commit.tree[MODULE].data_stream.read().decode()
    assert '{"a", "e", "i", "o", "u"}' in text
    # the default branch and the user's checkout are untouched; no worktree is left
    assert project.remote_sha("main") == request.base_commit
    assert git.Repo(project.root).head.commit.hexsha == user_head
    assert not git.Repo(project.root).is_dirty()
    assert registered_worktrees(project.root) == [project.root]
    assert len(gh.requests) <= 8


def test_a_rerun_updates_the_same_pr_and_never_duplicates(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request
    first = deliver_pull_request(request, run_result(request, membership(request)), client(gh))
    tip_before = project.remote_sha(first.head)
    again = run_result(request, membership(request), summing(request), run_id="run-2")
    second = deliver_pull_request(request, again, client(gh))

    assert second.number == first.number and second.head == first.head
    assert len(gh.repos["octo/demo"].pulls) == 1
    assert gh.count("POST", PULLS) == 1
    assert gh.count("PATCH", f"{PULLS}/1") == 1
    stored = gh.repos["octo/demo"].pulls[0]
    assert "run-2" in stored["body"] and stored["title"].startswith("perf: 2 proven changes")
    tip_after = project.remote_sha(first.head)
    assert tip_after != tip_before  # force-pushed: two commits on the base now
    commit = git.Repo(project.remote).commit(tip_after)
    assert commit.parents[0].parents[0].hexsha == request.base_commit
    assert "return sum(xs)" in commit.tree[MODULE].data_stream.read().decode()


def test_a_rerun_with_nothing_new_writes_nothing_to_the_pr(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request
    result = run_result(request, membership(request))
    deliver_pull_request(request, result, client(gh))
    writes_before = gh.count("POST") + gh.count("PATCH")
    reused = client(gh)
    deliver_pull_request(request, result, reused)
    assert gh.count("POST") + gh.count("PATCH") == writes_before
    assert reused.usage().requests == 2  # the default branch and the look-up


def test_where_drafts_are_unsupported_a_labelled_normal_pr_is_opened(
    project: Project, gh: GitHubStandIn
) -> None:
    gh.repos["octo/demo"].drafts_supported = False
    request = project.request
    pull = deliver_pull_request(request, run_result(request, membership(request)), client(gh))
    assert pull.draft is False
    assert gh.count("POST", PULLS) == 2
    first_post = next(i for i, r in enumerate(gh.requests) if r.method == "POST")
    assert gh.statuses[first_post] == 422
    assert gh.repos["octo/demo"].labels[pull.number] == [pulls.LABEL]
    assert "Draft pull requests are not available" in gh.repos["octo/demo"].pulls[0]["body"]
    assert len(gh.requests) <= 8
    again = run_result(request, membership(request), run_id="run-2")
    assert deliver_pull_request(request, again, client(gh)).number == pull.number
    updated = gh.repos["octo/demo"].pulls[0]["body"]
    assert "run-2" in updated and "Draft pull requests are not available" in updated


def test_a_pr_a_person_closed_is_not_reopened_or_pushed_to(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request
    first = deliver_pull_request(request, run_result(request, membership(request)), client(gh))
    tip = project.remote_sha(first.head)
    gh.repos["octo/demo"].pulls[0]["state"] = "closed"
    again = run_result(request, membership(request), summing(request), run_id="run-2")
    with pytest.raises(GitHubUnavailable, match="#1 for this branch was closed"):
        deliver_pull_request(request, again, client(gh))
    assert project.remote_sha(first.head) == tip
    assert gh.count("POST", PULLS) == 1 and gh.count("PATCH") == 0


def test_an_existing_pr_reported_by_422_is_looked_up_and_updated(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request
    deliver_pull_request(request, run_result(request, membership(request)), client(gh))
    # the next look-up misses it (a race, or a retried create): GitHub then says 422 exists
    gh.fail_next("GET", PULLS, 200, [])
    again = run_result(request, membership(request), run_id="run-2")
    pull = deliver_pull_request(request, again, client(gh))
    assert pull.number == 1 and len(gh.repos["octo/demo"].pulls) == 1
    assert 422 in gh.statuses and gh.count("PATCH", f"{PULLS}/1") == 1


def test_near_the_reserve_the_bundle_is_kept_and_nothing_is_pushed(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request
    gh.quota.remaining = 104  # the first read leaves 103: five more would dip below 100
    result = run_result(request, membership(request))
    files_before = sorted(p.name for p in request.output_dir.iterdir())
    with pytest.raises(GitHubUnavailable, match="below the reserve of 100"):
        deliver_pull_request(request, result, client(gh))
    assert [r.method for r in gh.requests] == ["GET"]
    assert project.remote_sha(pulls.branch_name(request)) is None
    assert sorted(p.name for p in request.output_dir.iterdir()) == files_before
    assert result.delivered[0].patch.read_text().startswith("From ")


def test_the_orchestrator_step_records_the_pr_and_the_api_use(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request.__class__(**{**project.request.__dict__, "github_api_url": gh.url})
    result = run_result(request, membership(request))
    lines = deliver_run(request, result, env(gh), sleep=RecordedSleep())
    assert result.pull_request is not None and result.pull_request.number == 1
    assert lines == ["draft pull request #1: https://github.com/octo/demo/pull/1"]
    assert result.github_fallback is None
    usage = result.github_usage
    assert usage is not None and usage.requests == 3 and usage.remaining["core"] == 4997
    data = result.to_json()
    assert data["pull_request"]["url"].endswith("/pull/1")
    assert data["github_usage"]["requests"] == 3
    assert "pull request #1 (draft): https://github.com/octo/demo/pull/1" in markdown(result)


def test_the_orchestrator_step_falls_back_with_the_reason(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request.__class__(**{**project.request.__dict__, "github_api_url": gh.url})
    gh.quota.remaining = 50
    result = run_result(request, membership(request))
    lines = deliver_run(request, result, env(gh), sleep=RecordedSleep())
    assert result.pull_request is None
    assert result.github_fallback is not None and "reserve" in result.github_fallback
    assert "the bundle is the delivery" in lines[0]
    assert result.to_json()["github_fallback"] == result.github_fallback
    assert "no pull request:" in markdown(result)
    assert gh.count("POST") == 0
    no_token = run_result(request, membership(request), run_id="run-3")
    deliver_run(request, no_token, {}, sleep=RecordedSleep())
    assert no_token.github_fallback is not None
    assert "no GitHub credentials" in no_token.github_fallback


def test_a_dry_run_or_an_unset_repository_never_touches_github(
    project: Project, gh: GitHubStandIn
) -> None:
    base = project.request.__dict__
    for changed in ({"dry_run": True}, {"github_repository": None}):
        request = project.request.__class__(**{**base, "github_api_url": gh.url, **changed})
        result = run_result(request, membership(request))
        assert deliver_run(request, result, env(gh)) == []
    assert gh.requests == []


def test_workflow_changes_and_clashing_changes_stay_in_the_bundle(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request
    result = run_result(request, membership(request), clashing(request), workflow(request))
    pull = deliver_pull_request(request, result, client(gh))
    body = gh.repos["octo/demo"].pulls[0]["body"]
    assert "### Not included" in body
    assert ".github/workflows/ci.yml, and the bot never touches .github/workflows" in body
    assert "does not apply with the others" in body
    tip = git.Repo(project.remote).commit(project.remote_sha(pull.head))
    assert tip.parents[0].hexsha == request.base_commit  # one commit: the first change only
    assert ".github" not in [item.path for item in tip.tree.trees]


def test_only_workflow_changes_mean_no_pr(project: Project, gh: GitHubStandIn) -> None:
    request = project.request
    with pytest.raises(GitHubUnavailable, match=r"never touches \.github/workflows"):
        deliver_pull_request(request, run_result(request, workflow(request)), client(gh))
    assert gh.requests == []


def test_a_missing_remote_is_a_reason_not_a_crash(project: Project, gh: GitHubStandIn) -> None:
    request = project.request.__class__(**{**project.request.__dict__, "push_remote": None})
    with pytest.raises(GitHubUnavailable, match="no git remote 'origin'"):
        deliver_pull_request(request, run_result(request, membership(request)), client(gh))
    assert gh.count("POST") == 0


def test_branch_names_are_deterministic_per_project_targets_method_and_base(
    project: Project,
) -> None:
    request = project.request
    name = pulls.branch_name(request)
    assert name == pulls.branch_name(request)
    assert name.startswith("selfimprove/hot-spots-") and len(name.rsplit("-", 1)[1]) == 8
    other_base = request.__class__(**{**request.__dict__, "base_commit": "f" * 40})
    assert pulls.branch_name(other_base) != name


def test_the_push_token_travels_in_the_environment_for_that_host_only() -> None:
    settings = _auth_env("https://github.example/octo/demo.git", lambda: "ghs_secret")
    key = "http.https://github.example/.extraheader"
    assert settings["GIT_CONFIG_KEY_0"] == key and settings["GIT_CONFIG_VALUE_0"] == ""
    assert settings["GIT_CONFIG_KEY_1"] == key
    assert settings["GIT_CONFIG_VALUE_1"].startswith("AUTHORIZATION: basic ")
    assert "ghs_secret" not in settings["GIT_CONFIG_VALUE_1"]  # base64, not the raw token
