"""The orchestrator's delivery step and the settings that turn GitHub delivery on."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from bot.config import Flags, build_request
from bot.core.errors import UserError
from bot.flow.deliver import deliver as deliver_step
from bot.flow.deliver import select
from bot.flow.progress import Progress
from bot.report.results import RunResult
from tests.conftest import run_cli
from tests.github.accepted import Project, make_project, membership
from tests.github.rest_standin import GitHubStandIn


@pytest.fixture
def project(tmp_path: Path, gh: GitHubStandIn, monkeypatch: pytest.MonkeyPatch) -> Project:
    made = make_project(tmp_path)
    gh.add_repo("octo/demo", remote=made.remote)
    monkeypatch.setenv("GITHUB_TOKEN", gh.token)
    return replace(made, request=replace(made.request, github_api_url=gh.url))


def deliver(project: Project) -> tuple[RunResult, str]:
    """The run's delivery step on one accepted evaluation: bundle, then PR, then report."""
    result = RunResult(run_id="run-1", request=project.request)
    result.evaluations.append(membership(project.request))
    err = io.StringIO()
    progress = Progress(Console(file=err, width=200))
    deliver_step(project.request, result, progress, select(result.evaluations))
    return result, err.getvalue()


def test_the_bundle_is_written_then_the_draft_pr_opened_and_reported(
    project: Project, gh: GitHubStandIn
) -> None:
    result, said = deliver(project)
    assert result.pull_request is not None and result.pull_request.draft
    folder = project.request.output_dir
    change = result.delivered[0]
    assert change.patch.is_file() and change.metadata.is_file()
    report = (folder / "report.md").read_text()
    assert "pull request #1 (draft): https://github.com/octo/demo/pull/1" in report
    # recent pulls, dashboard, default branch, branch look-up, create, dashboard create
    assert "GitHub API: 6 request(s), 0 answered 304" in report
    assert "draft pull request #1" in said
    body = gh.repos["octo/demo"].pulls[0]["body"]
    assert change.patch_cid in body and change.patch_sha256 in body
    ledger = [json.loads(line) for line in (folder / "ledger.jsonl").read_text().splitlines()]
    assert [entry["decision"] for entry in ledger] == ["selected"]


def test_when_the_quota_is_near_the_bundle_is_the_delivery_and_nothing_is_lost(
    project: Project, gh: GitHubStandIn
) -> None:
    gh.quota.remaining = 60
    result, said = deliver(project)
    assert result.pull_request is None and gh.count("POST") == 0
    assert result.github_fallback is not None and "reserve of 100" in result.github_fallback
    change = result.delivered[0]
    assert change.patch.read_text().startswith("From ") and change.reverse_patch.is_file()
    assert (
        f"no pull request: {result.github_fallback}"
        in (project.request.output_dir / "report.md").read_text()
    )
    assert "the bundle is the delivery" in said
    assert project.remote_sha("refs/heads/main") == project.request.base_commit
    assert [r for r in project.remote.joinpath("refs", "heads").rglob("*") if r.is_file()] == [
        project.remote / "refs" / "heads" / "main"
    ]


def test_github_settings_come_from_flags_config_and_the_environment(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    config = '[tool.selfimprove]\npush-remote = "upstream"\nrate-reserve = 250\n'
    root = make_repo({"pyproject.toml": config, "m.py": "x = 1\n"})
    plain = build_request(Flags(path=str(root), dry_run=False))
    assert plain.github_repository is None
    assert (plain.push_remote, plain.rate_reserve) == ("upstream", 250)
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/demo")
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example/api/v3")
    from_env = build_request(Flags(path=str(root), dry_run=False))
    assert from_env.github_repository == "octo/demo"
    assert from_env.github_api_url == "https://ghe.example/api/v3"
    flagged = build_request(
        Flags(path=str(root), dry_run=False, repository="me/fork", push_remote="origin")
    )
    assert (flagged.github_repository, flagged.push_remote) == ("me/fork", "origin")
    with pytest.raises(UserError, match="owner/name"):
        build_request(Flags(path=str(root), repository="not a repo"))


def test_a_negative_rate_reserve_is_refused(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"pyproject.toml": "[tool.selfimprove]\nrate-reserve = -1\n"})
    with pytest.raises(UserError, match="rate-reserve"):
        build_request(Flags(path=str(root)))


def test_the_cli_reads_the_repository_flag(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    root = make_repo({"m.py": "x = 1\n"})
    done = run_cli(
        "run",
        str(root),
        "--repository",
        "no-slash",
        "--push-remote",
        "up",
        cwd=tmp_path,
        home=tmp_path / "home",
        timeout=120,
    )
    assert done.returncode == 2
    assert "a GitHub repository is owner/name, not 'no-slash'" in done.stderr
