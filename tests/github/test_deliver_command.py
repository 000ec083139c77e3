"""``selfimprove deliver``: a bundle proven in one job is verified and delivered in another.

The deliver job runs no project code; it checks every signature and digest first, then
takes the same pull-request step as a run, so a re-run updates and a bundle that fell back
earlier (quota, GitHub down) is delivered later with nothing lost.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from rich.console import Console

from bot.bundle.read import diff_of
from bot.flow.deliver import deliver as deliver_step
from bot.flow.progress import Progress
from bot.github import pulls
from bot.signing import ssh
from tests.conftest import run_cli
from tests.github.accepted import Project, make_project, membership, run_result
from tests.github.rest_standin import GitHubStandIn

IDENTITY = "bot@example.com"


@dataclass(frozen=True)
class Signed:
    project: Project
    allowed: Path
    folder: Path


@pytest.fixture
def signed(tmp_path: Path, gh: GitHubStandIn) -> Signed:
    """A project with a bare remote on the stand-in, and a bundle signed by a trusted key."""
    made = make_project(tmp_path)
    gh.add_repo("octo/demo", remote=made.remote)
    key = tmp_path / "keys" / "bot"
    key.parent.mkdir()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(ssh.generate_key(key, IDENTITY) + "\n")
    project = replace(made, request=replace(made.request, signing_key=key, github_api_url=gh.url))
    return Signed(project, allowed, project.request.output_dir)


def deliver_cli(signed: Signed, gh: GitHubStandIn, *extra: str) -> tuple[int, str]:
    done = run_cli(
        "deliver",
        str(signed.folder),
        "--repo",
        str(signed.project.root),
        "--repository",
        "octo/demo",
        "--push-remote",
        str(signed.project.remote),
        "--allowed-signers",
        str(signed.allowed),
        "--identity",
        IDENTITY,
        *extra,
        cwd=signed.folder.parent,
        home=signed.folder.parent / "deliver-home",
        timeout=120,
        env={"GITHUB_TOKEN": gh.token, "GITHUB_API_URL": gh.url},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout + done.stderr


def test_a_bundle_made_elsewhere_becomes_the_draft_pr_and_a_rerun_opens_nothing_twice(
    signed: Signed, gh: GitHubStandIn
) -> None:
    run_result(signed.project.request, membership(signed.project.request))
    code, said = deliver_cli(signed, gh)
    assert code == 0, said
    assert "ok    patch signature" in said
    (pull,) = gh.repos["octo/demo"].pulls
    assert pull["draft"] is True and f"pull request #{pull['number']}" in said
    assert pull["head"] == pulls.branch_name(signed.project.request)  # the run's own branch
    assert signed.project.remote_sha(f"refs/heads/{pull['head']}") is not None
    posts = gh.count("POST")

    again, said_again = deliver_cli(signed, gh)
    assert again == 0, said_again
    assert len(gh.repos["octo/demo"].pulls) == 1
    assert gh.count("POST") == posts  # updated in place (or left alone), never created again


def test_a_bundle_that_fell_back_earlier_is_delivered_later(
    signed: Signed, gh: GitHubStandIn
) -> None:
    request = signed.project.request
    gh.quota.remaining = 60  # below the reserve: the run's own delivery falls back
    result = run_result(request, membership(request))
    result.delivered.clear()
    deliver_step(request, result, Progress(Console(file=io.StringIO())), result.evaluations)
    assert result.pull_request is None and result.github_fallback is not None
    assert gh.repos["octo/demo"].pulls == []

    gh.quota.remaining = 5000  # GitHub is usable again
    code, said = deliver_cli(signed, gh)
    assert code == 0, said
    (pull,) = gh.repos["octo/demo"].pulls
    assert pull["head"] == pulls.branch_name(request)


@pytest.mark.parametrize("digests_too", [False, True])
def test_a_tampered_bundle_is_refused_before_any_request(
    signed: Signed, gh: GitHubStandIn, digests_too: bool
) -> None:
    """A changed patch fails its digest; with the digests forged to match, its signatures."""
    result = run_result(signed.project.request, membership(signed.project.request))
    change = result.delivered[0]
    text = change.patch.read_text().replace('{"a", "e"', '{"a", "x"')
    change.patch.write_text(text)
    if digests_too:
        facts = json.loads(change.metadata.read_text())
        facts["patch_sha256"] = hashlib.sha256(text.encode()).hexdigest()
        facts["diff_sha256"] = hashlib.sha256(diff_of(text).encode()).hexdigest()
        change.metadata.write_text(json.dumps(facts))
    code, said = deliver_cli(signed, gh)
    assert code == 2, said
    assert ("FAIL  patch signature" in said) if digests_too else ("does not match" in said)
    assert gh.requests == [] and gh.repos["octo/demo"].pulls == []


def test_without_github_the_deliver_job_says_so_and_keeps_the_bundle(
    signed: Signed, gh: GitHubStandIn
) -> None:
    result = run_result(signed.project.request, membership(signed.project.request))
    gh.quota.remaining = 60
    code, said = deliver_cli(signed, gh)
    assert code == 1, said
    assert "reserve of 100" in said and "run this again later" in said
    assert result.delivered[0].patch.is_file()
    assert gh.count("POST") == 0


def test_an_empty_folder_is_one_sentence(tmp_path: Path) -> None:
    done = run_cli("deliver", str(tmp_path), cwd=tmp_path, home=tmp_path / "home", timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("selfimprove: error: no change to deliver in")
    assert "Traceback" not in done.stderr
