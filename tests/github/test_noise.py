"""Noise control (issue 12) against the REST stand-in and a bare remote.

Accepted evaluations are given as data (real diffs, real bundles, real git pushes, the real
delivery step); what is under test is which pull requests arrive, and when.
"""

from __future__ import annotations

import io
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import git
import httpx
import pytest
from rich.console import Console

from bot.core.evaluation import Evaluation
from bot.core.request import NoiseControl, Request
from bot.flow.deliver import deliver as deliver_step
from bot.flow.deliver import select
from bot.flow.progress import Progress
from bot.github import dashboard
from bot.github.server import ServeSettings, WebhookServer
from bot.github.webhook import sign
from bot.report.results import RunResult
from tests.conftest import commit_files, run_cli
from tests.github.accepted import Project, change, make_project
from tests.github.rest_standin import GitHubStandIn

CALC = "src/pkg/calc.py"
OTHER = "src/pkg/other.py"
NAMES = ("total_a", "total_b", "total_c", "total_d")


def loop(name: str, mark: str = "") -> str:
    body = "    out = 0\n    for x in xs:\n        out += x\n    return out\n"
    return f"def {name}(xs):{mark}\n{body}"


def module(*names: str, marks: dict[str, str] | None = None, head: str = "") -> str:
    marks = marks or {}
    return head + "\n\n".join(loop(n, marks.get(n, "")) for n in names)


@pytest.fixture
def project(tmp_path: Path, gh: GitHubStandIn, monkeypatch: pytest.MonkeyPatch) -> Project:
    made = make_project(tmp_path)
    gh.add_repo("octo/demo", remote=made.remote)
    monkeypatch.setenv("GITHUB_TOKEN", gh.token)
    request = replace(made.request, github_api_url=gh.url)
    return replace(made, request=new_base(request, made.remote, {CALC: module(*NAMES)}))


def new_base(request: Request, remote: Path, files: dict[str, str]) -> Request:
    """Commit ``files`` on main, push them, and return the Request on the new base commit."""
    sha = commit_files(request.repo_root, files, "new base")
    git.Repo(request.repo_root).git.push(str(remote), "HEAD:refs/heads/main")
    return replace(request, base_commit=sha)


def rewrite(request: Request, name: str, *, share: float = 0.2, path: str = CALC) -> Evaluation:
    """An accepted change of ``name`` to ``sum(xs)``, on the request's base commit."""
    old = git.Repo(request.repo_root).git.show(f"{request.base_commit}:{path}") + "\n"
    start = old.index(f"def {name}(")
    end = old.index("return out\n", start) + len("return out\n")
    header = old[start : old.index("\n", start) + 1]
    new = old[:start] + header + "    return sum(xs)\n" + old[end:]
    evaluation = change(request, name, path, old, new, "builtin-sum")
    target = replace(
        evaluation.candidate.target, module=path[4:-3].replace("/", "."), profile_share=share
    )
    return replace(evaluation, candidate=replace(evaluation.candidate, target=target))


def run(
    request: Request, evaluations: list[Evaluation], run_id: str, **settings: object
) -> RunResult:
    """The run's delivery step (bundle, policy, PRs, dashboard) on the given evaluations."""
    request = replace(
        request, output_dir=request.output_dir.parent / run_id, noise=NoiseControl(**settings)
    )  # type: ignore[arg-type]
    result = RunResult(run_id=run_id, request=request)
    result.evaluations.extend(evaluations)
    progress = Progress(Console(file=io.StringIO(), width=200))
    deliver_step(request, result, progress, select(result.evaluations))
    return result


def board(gh: GitHubStandIn) -> str:
    issues = gh.repos["octo/demo"].issues
    assert len(issues) == 1 and issues[0]["title"] == dashboard.TITLE
    return str(issues[0]["body"])


def commits(project: Project, branch: str) -> int:
    done = subprocess.run(
        ["git", "-C", str(project.remote), "rev-list", "--count", f"main..{branch}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def writes(gh: GitHubStandIn, since: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in gh.requests[since:] if r.method != "GET"]


def test_the_open_cap_holds_and_the_rest_waits_on_the_dashboard(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request
    result = run(request, [rewrite(request, n) for n in NAMES], "run-1", group="target")
    pulls = gh.repos["octo/demo"].pulls
    assert len(pulls) == 3
    body = board(gh)
    assert body.count("<!-- wait:") == 1 and "held by max-open-prs (3 open)" in body
    waiting = dashboard.parse_state(body).waiting
    assert len(waiting) == 1 and "total_d" in waiting[0].title
    assert commits(project, waiting[0].branch) == 1  # pushed, so a tick only opens it
    assert all(f"#{p['number']}" in body for p in pulls)
    assert result.pull_request is not None


def test_the_daily_cap_counts_what_opened_today(project: Project, gh: GitHubStandIn) -> None:
    request = project.request
    run(request, [rewrite(request, "total_a")], "run-1", group="target", max_prs_per_day=2)
    later = [rewrite(request, n) for n in NAMES[1:3]]
    run(request, later, "run-2", group="target", max_prs_per_day=2)
    assert len(gh.repos["octo/demo"].pulls) == 2
    assert "held by max-prs-per-day (2 opened today)" in board(gh)


def test_a_closed_change_stays_closed_until_its_function_changes(
    project: Project, gh: GitHubStandIn
) -> None:
    first = project.request
    run(first, [rewrite(first, "total_a")], "run-1")
    pulls = gh.repos["octo/demo"].pulls
    assert len(pulls) == 1
    pulls[0]["state"] = "closed"
    second = new_base(first, project.remote, {OTHER: "X = 1\n"})
    result = run(second, [rewrite(second, "total_a")], "run-2")
    assert len(pulls) == 1 and result.pull_request is None
    assert any("a maintainer declined" in note for note in result.notes)
    assert "<!-- declined:" in board(gh)
    changed = module(*NAMES).replace("def total_a(xs):\n", "def total_a(xs):\n    # fast\n")
    third = new_base(second, project.remote, {CALC: changed})
    again = run(third, [rewrite(third, "total_a")], "run-3")
    assert len(pulls) == 2 and again.pull_request is not None
    assert pulls[1]["state"] == "open"


def test_a_merged_change_is_not_improved_again_unless_forced(
    project: Project, gh: GitHubStandIn
) -> None:
    first = project.request
    run(first, [rewrite(first, "total_a")], "run-1")
    pulls = gh.repos["octo/demo"].pulls
    pulls[0].update(state="closed", merged_at="2026-11-30T00:00:00Z")
    merged = module(*NAMES).replace(loop("total_a"), "def total_a(xs):\n    return sum(xs)\n")
    second = new_base(first, project.remote, {CALC: merged})
    old = git.Repo(second.repo_root).git.show(f"{second.base_commit}:{CALC}") + "\n"
    tweak = old.replace("    return sum(xs)\n", "    return sum(xs, 0)\n", 1)
    again = change(second, "total_a", CALC, old, tweak, "sum-start")
    target = replace(again.candidate.target, module="pkg.calc", profile_share=0.3)
    again = replace(again, candidate=replace(again.candidate, target=target))
    run(second, [again], "run-2")
    assert len(pulls) == 1
    run(second, [again], "run-3", force=True)
    assert len(pulls) == 2


@pytest.mark.parametrize("where", ["def", "file"])
def test_skip_marks_silence_a_function_or_a_file(
    project: Project, gh: GitHubStandIn, where: str
) -> None:
    marked = (
        module(*NAMES, marks={"total_a": "  # selfimprove: skip"})
        if where == "def"
        else module(*NAMES, head="# selfimprove: skip\n")
    )
    request = new_base(project.request, project.remote, {CALC: marked})
    result = run(request, [rewrite(request, "total_a"), rewrite(request, "total_b")], "r1")
    pulls = gh.repos["octo/demo"].pulls
    if where == "def":
        assert len(pulls) == 1 and "total_b" in pulls[0]["title"]
        assert "total_a" not in pulls[0]["body"]
    else:
        assert pulls == [] and gh.count("POST") == 0
    assert any("selfimprove: skip" in note for note in result.notes)


def test_the_ignore_label_declines_an_open_pull_request(
    project: Project, gh: GitHubStandIn
) -> None:
    first = project.request
    run(first, [rewrite(first, "total_a")], "run-1")
    repo = gh.repos["octo/demo"]
    repo.labels[repo.pulls[0]["number"]] = ["selfimprove:ignore"]
    second = new_base(first, project.remote, {OTHER: "X = 2\n"})
    run(second, [rewrite(second, "total_a")], "run-2")
    assert len(repo.pulls) == 1


@pytest.mark.parametrize(
    ("mode", "expected"), [("run", [3]), ("target", [1, 1, 1]), ("file", [2, 1])]
)
def test_each_grouping_mode(
    project: Project, gh: GitHubStandIn, mode: str, expected: list[int]
) -> None:
    files = {CALC: module("total_a", "total_b"), OTHER: module("total_c")}
    request = new_base(project.request, project.remote, files)
    evaluations = [
        rewrite(request, "total_a"),
        rewrite(request, "total_b"),
        rewrite(request, "total_c", path=OTHER),
    ]
    run(request, evaluations, "run-1", group=mode, max_open_prs=5)
    pulls = gh.repos["octo/demo"].pulls
    assert sorted(commits(project, p["head"]) for p in pulls) == sorted(expected)
    assert len({p["head"] for p in pulls}) == len(expected)


def test_the_impact_floor_holds_and_the_body_opens_with_the_impact(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request
    hot = rewrite(request, "total_a", share=0.2)
    cold = rewrite(request, "total_b", share=0.001)
    run(request, [hot, cold], "run-1")
    pulls = gh.repos["octo/demo"].pulls
    assert len(pulls) == 1
    body = str(pulls[0]["body"])
    lines = body.splitlines()
    assert lines[1] == "**Impact**"
    gain = 0.2 * (1 - 1 / 1.42) * 100
    assert "`pkg.calc:total_a`: 20.00% of the profile; 1.42x (95% CI 1.31-1.55)" in lines[3]
    assert f"expected gain **{gain:.2f}%**" in lines[3] and "50 calls pinned" not in lines[3]
    assert "guarded by 12 tests that pass on the base pass" in lines[3]
    assert "total_b" not in body
    held = board(gh)
    assert "below the impact floor of 0.50%" in held and "total_b" in held


def held_then_ticked(project: Project, gh: GitHubStandIn, name: str) -> dashboard.Waiting:
    """Two changes held for approval; a maintainer ticks the box of ``name``'s."""
    request = project.request
    changes = [rewrite(request, n) for n in NAMES[:2]]
    run(request, changes, "run-1", group="target", pr_creation="approval")
    repo = gh.repos["octo/demo"]
    assert repo.pulls == []
    waiting = dashboard.parse_state(board(gh)).waiting
    assert len(waiting) == 2
    chosen = next(w for w in waiting if name in w.title)
    issue = repo.issues[0]
    issue["body"] = issue["body"].replace(f"- [ ] {chosen.title}", f"- [x] {chosen.title}")
    return chosen


def test_ticking_a_box_opens_exactly_that_pull_request_on_the_next_run(
    project: Project, gh: GitHubStandIn
) -> None:
    request = project.request
    chosen = held_then_ticked(project, gh, "total_b")
    repo = gh.repos["octo/demo"]
    run(request, [], "run-2", group="target", pr_creation="approval")
    assert [p["head"] for p in repo.pulls] == [chosen.branch]
    assert repo.pulls[0]["title"] == chosen.title
    after = board(gh)
    assert after.count("<!-- wait:") == 1 and f"#{repo.pulls[0]['number']}" in after


def test_a_run_with_nothing_new_makes_no_write_request(project: Project, gh: GitHubStandIn) -> None:
    request = project.request
    changes = [rewrite(request, n) for n in NAMES]
    run(request, changes, "run-1", group="target")
    assert gh.count("POST", "/repos/octo/demo/issues") == 1
    before = len(gh.requests)
    run(request, [rewrite(request, n) for n in NAMES], "run-2", group="target")
    assert writes(gh, before) == []
    assert len(gh.requests) - before <= 3
    quiet = len(gh.requests)
    run(request, [], "run-3", group="target")
    assert writes(gh, quiet) == [] and len(gh.requests) - quiet <= 3


def test_stats_count_what_maintainers_did_with_the_pull_requests(
    project: Project, gh: GitHubStandIn, tmp_path: Path
) -> None:
    request = project.request
    run(request, [rewrite(request, "total_a"), rewrite(request, "total_b")], "r1", group="target")
    pulls = gh.repos["octo/demo"].pulls
    pulls[0].update(state="closed", merged_at="2026-11-30T00:00:00Z")
    pulls[1].update(state="closed")
    run(new_base(request, project.remote, {OTHER: "X = 3\n"}), [], "r2", group="target")
    done = run_cli("stats", "--home", str(request.home), cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    said = done.stdout
    assert "- runs: 2" in said and "- candidates: 2, accepted: 2" in said
    assert "- pull requests: 2 opened, 1 merged, 1 closed" in said
    assert "- median speed-up of merged changes: 1.42x" in said
    assert "| test-driven | 2 | 2 | 100% | 2 | 1 | 1 |" in said
    assert "| builtin-sum | 2 | 2 | 2 | 1 | 1 |" in said


def test_serve_opens_a_ticked_pull_request_when_the_dashboard_is_edited(
    project: Project, gh: GitHubStandIn
) -> None:
    chosen = held_then_ticked(project, gh, "total_a")
    repo = gh.repos["octo/demo"]
    issue = repo.issues[0]
    ticked = issue["body"]
    payload = {
        "action": "edited",
        "issue": {
            "number": issue["number"],
            "title": issue["title"],
            "html_url": "https://github.com/octo/demo/issues/1",
            "body": ticked,
            "labels": [{"name": dashboard.LABEL}],
        },
        "changes": {"body": {"from": "..."}},
        "repository": {"full_name": "octo/demo"},
        "sender": {"login": "maintainer", "type": "User"},
    }
    secret = b"dashboard-secret"
    body = json.dumps(payload).encode()
    settings = ServeSettings(secret=secret, env={"GITHUB_TOKEN": gh.token}, api_url=gh.url)
    server = WebhookServer(settings, log=io.StringIO())
    server.start()
    try:
        answer = httpx.post(
            server.url + "/webhook",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": "issues",
                "X-GitHub-Delivery": "d-1",
                "X-Hub-Signature-256": sign(secret, body),
            },
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        assert server.wait_idle(30)
    finally:
        server.stop()
    assert [p["head"] for p in repo.pulls] == [chosen.branch]
    after = str(repo.issues[0]["body"])
    assert after.count("<!-- wait:") == 1 and "- [x]" not in after
    assert f"#{repo.pulls[0]['number']}" in after
