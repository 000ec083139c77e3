"""``selfimprove action`` with real event payload files, on a tiny real repository.

Each event test writes the payload file the runner would write, sets the variables the
runner sets, and calls the command's entry point (``bot.cli.main(["action"])``) in this
process; the run itself profiles and pins the project with its own pytest subprocesses.
The target ``total_length`` has no codemod, so a run ends after characterisation: the
event plumbing, outputs and summary are the point here, not the gates.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.action import annotations_for, finish_text, outputs, summary
from bot.cli import main as cli_main
from bot.core.candidate import Candidate, Target
from bot.core.evaluation import Evaluation, GateResult
from bot.github import handoff
from bot.github.workflow_commands import (
    Annotation,
    append_summary,
    escape_data,
    write_outputs,
)
from bot.report.results import Delivered, PullRef, RunResult
from tests.conftest import make_request
from tests.github.rest_standin import GitHubStandIn, RepoState

REPO = "octo-org/textops"
PROJECT = {
    "textops.py": (
        "def shout_all(words):\n"
        "    out = []\n"
        "    for word in words:\n"
        "        out.append(word.upper())\n"
        "    return out\n"
        "\n\n"
        "def total_length(words):\n"
        "    return sum(len(word) for word in words)\n"
    ),
    "tests/test_textops.py": (
        "from textops import shout_all, total_length\n\n\n"
        "def test_shout_all():\n"
        "    assert shout_all(['a', 'b']) == ['A', 'B']\n\n\n"
        "def test_total_length():\n"
        "    assert total_length(['ab', 'c']) == 3\n"
    ),
    "docs/index.md": "# textops\n",
}


def read_outputs(path: Path) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT as the runner does: ``name=value`` or ``name<<DELIM`` blocks."""
    found: dict[str, str] = {}
    lines = iter(path.read_text().split("\n"))
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            value: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            else:
                raise AssertionError(f"unterminated output {name}")
            found[name] = "\n".join(value)
        elif "=" in line:
            name, value_text = line.split("=", 1)
            found[name] = value_text
        else:
            assert line == "", line
    return found


@pytest.fixture
def step(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[int, dict[str, str], str, str]]]:
    """Run the action for an event: (exit status, outputs, summary, stdout)."""
    workspace = make_repo(PROJECT, name="workspace")
    for name in list(os.environ):
        if name.startswith(("INPUT_", "GITHUB_", "SELFIMPROVE_GITHUB", "SELFIMPROVE_APP", "GH_")):
            monkeypatch.delenv(name)

    def run_step(
        event: str,
        payload: dict[str, Any],
        capsys: pytest.CaptureFixture[str],
        api_url: str | None = None,
        **inputs: str,
    ) -> tuple[int, dict[str, str], str, str]:
        runner = tmp_path / f"runner-{event}"
        runner.mkdir()
        (runner / "event.json").write_text(json.dumps(payload))
        (runner / "summary.md").write_text("earlier step\n")
        variables = {
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(runner / "event.json"),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(runner / "output"),
            "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "1658821493",
            "RUNNER_TEMP": str(runner),
            "INPUT_OUT": str(tmp_path / "bundles"),
            "INPUT_INTERPRETER": sys.executable,
        }
        if api_url:
            variables["GITHUB_API_URL"] = api_url
        for name, value in inputs.items():
            variables[f"INPUT_{name.upper()}"] = value
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        status = cli_main(["action"])
        out = capsys.readouterr().out
        produced = read_outputs(runner / "output") if (runner / "output").exists() else {}
        written = (runner / "summary.md").read_text()
        assert written.startswith("earlier step\n")  # appended, never overwritten
        return status, produced, written.removeprefix("earlier step\n"), out

    yield run_step


@pytest.fixture
def github() -> Iterator[tuple[GitHubStandIn, RepoState]]:
    with GitHubStandIn() as gh:
        repo = gh.add_repo(REPO)
        repo.permissions.update({"octocat": "write", "reader": "read"})
        yield gh, repo


def comment_event(body: str, user: str = "octocat") -> dict[str, Any]:
    return {
        "action": "created",
        "issue": {"number": 7, "title": "slow", "pull_request": {"url": "..."}},
        "comment": {
            "id": 555,
            "body": body,
            "user": {"login": user, "type": "User"},
            "author_association": "CONTRIBUTOR",
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
        "sender": {"login": user, "type": "User"},
    }


def check_run_outputs(produced: dict[str, str], written: str) -> None:
    """Outputs and summary agree with the bundle the run wrote."""
    bundle = Path(produced["bundle-path"])
    assert (bundle / "report.md").is_file()
    patches = [p for p in bundle.glob("*.patch") if not p.name.endswith(".reverse.patch")]
    assert produced["accepted-count"] == str(len(patches))
    assert len(produced["patch-cid"].split()) == len(patches)
    assert (produced["pr-url"], produced["pr-number"]) == ("", "")
    assert written.startswith(f"## selfimprove: {len(patches)} accepted change(s)")
    report = (bundle / "report.md").read_text()
    assert report.partition("## Targets found")[2] in written  # the same tables as report.md


def test_schedule_runs_on_the_action_inputs(
    step: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    status, produced, written, out = step(
        "schedule",
        {"schedule": "17 3 * * 1"},
        capsys,
        targets="textops.py:total_length",
        dry_run="true",
    )
    assert status == 0, out
    check_run_outputs(produced, written)
    assert "`textops:total_length`" in written and "shout_all" not in written
    stats = written.split("## selfimprove stats\n", 1)[1]  # the job summary ends with stats
    assert "- runs: 1" in stats and "- pull requests: 0 opened" in stats
    stop = re.search(r"^::stop-commands::(\w+)$", out, re.M)
    assert stop and f"\n::{stop[1]}::\n" in out  # commands off during the run, then back on
    section = written.split("## Notes\n\n", 1)[1] if "## Notes" in written else ""
    notes = section.split("\n## ", 1)[0].splitlines()  # up to the stats that follow
    for note in (line.removeprefix("- ") for line in notes if line.startswith("- ")):
        assert f"::notice::{escape_data(note)}" in out


def test_workflow_dispatch_inputs_win_over_the_action_inputs(
    step: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    payload = {
        "inputs": {"targets": "textops.py:total_length", "dry-run": True, "budget": ""},
        "ref": "refs/heads/main",
        "repository": {"full_name": REPO},
        "workflow": ".github/workflows/selfimprove.yml",
    }
    status, produced, written, out = step(
        "workflow_dispatch", payload, capsys, targets="textops.py:shout_all", dry_run="false"
    )
    assert status == 0, out
    check_run_outputs(produced, written)
    assert "`textops:total_length`" in written and "shout_all" not in written


def test_issue_comment_runs_the_command_and_answers_it(
    step: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    github: tuple[GitHubStandIn, RepoState],
) -> None:
    gh, repo = github
    status, produced, written, out = step(
        "issue_comment",
        comment_event("/improve textops.py:total_length --dry-run"),
        capsys,
        api_url=gh.url,
        github_token=gh.token,
        targets="textops.py:shout_all",
    )
    assert status == 0, out
    check_run_outputs(produced, written)
    assert "`textops:total_length`" in written and "shout_all" not in written
    assert [r["content"] for r in repo.reactions] == ["eyes", "rocket"]
    (reply,) = repo.comments
    assert "No change passed all seven gates" in reply["body"]
    assert "https://github.com/octo-org/textops/actions/runs/1658821493" in reply["body"]
    assert gh.count("GET", f"/repos/{REPO}/collaborators/octocat/permission") == 1


def test_issue_comment_from_a_reader_is_refused_without_a_run(
    step: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    github: tuple[GitHubStandIn, RepoState],
    tmp_path: Path,
) -> None:
    gh, repo = github
    status, produced, written, _ = step(
        "issue_comment",
        comment_event("/improve", user="reader"),
        capsys,
        api_url=gh.url,
        github_token=gh.token,
    )
    assert status == 0
    assert produced == {
        "pr-url": "",
        "pr-number": "",
        "bundle-path": "",
        "patch-cid": "",
        "accepted-count": "0",
    }
    assert written == "" and not (tmp_path / "bundles").exists()
    assert repo.reactions == [] and "write access" in repo.comments[0]["body"]


def test_a_dispatched_order_that_cannot_start_is_answered_with_the_reason(
    step: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    github: tuple[GitHubStandIn, RepoState],
) -> None:
    gh, repo = github
    payload = {
        "action": handoff.EVENT_TYPE,
        "client_payload": {
            "line": "/improve docs",
            "repository": REPO,
            "issue_number": 7,
            "comment_id": 555,
            "user": "octocat",
        },
        "repository": {"full_name": REPO},
    }
    status, _, _, out = step(
        "repository_dispatch", payload, capsys, api_url=gh.url, github_token=gh.token
    )
    assert status == 2
    assert "::error title=selfimprove::the folder 'docs' holds no Python file" in out
    assert [r["content"] for r in repo.reactions] == ["confused"]
    assert "The run stopped: the folder 'docs' holds no Python file" in repo.comments[0]["body"]


@pytest.mark.parametrize(
    ("event", "payload", "inputs", "sentence"),
    [
        ("push", {"ref": "refs/heads/main"}, {}, "does not run on the 'push' event"),
        ("schedule", {}, {"budget": "-1"}, "the budget input must be a positive whole number"),
        ("schedule", {}, {"fail_on": "sometimes"}, "fail-on accepts"),
        ("repository_dispatch", {"action": "deploy"}, {}, "is not for selfimprove"),
        ("schedule", {}, {"path": "../elsewhere"}, "leaves the workspace"),
        ("issue_comment", comment_event("/improve"), {}, "comment commands need GitHub access"),
    ],
)
def test_bad_events_and_inputs_are_one_sentence_and_exit_2(
    step: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    event: str,
    payload: dict[str, Any],
    inputs: dict[str, str],
    sentence: str,
) -> None:
    status, produced, written, out = step(event, payload, capsys, **inputs)
    assert status == 2
    (line,) = [line for line in out.splitlines() if line.startswith("::error")]
    assert sentence in line
    assert produced == {} and written == ""


def test_outside_actions_the_command_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_EVENT_NAME", raising=False)
    assert cli_main(["action"]) == 2
    assert "GITHUB_EVENT_NAME is not set" in capsys.readouterr().err


def delivered_result(tmp_path: Path, make_repo: Callable[..., Path], dry_run: bool) -> RunResult:
    """A run that accepted one change, as the orchestrator would report it."""
    root = make_repo(PROJECT, name=f"made-{dry_run}")
    request = make_request(root, dry_run=dry_run)
    target = Target(file="textops.py", module="textops", qualname="shout_all", line=1)
    candidate = Candidate(
        target,
        "diff",
        ("textops.py",),
        "test-driven",
        "codemods",
        "list-comprehension",
        "append loop -> list comprehension",
    )
    timing = {
        "base_median_s": 2e-3,
        "candidate_median_s": 1e-3,
        "ratio": 2.0,
        "ci_low": 1.8,
        "ci_high": 2.2,
        "p_value": 1e-4,
    }
    gates = (GateResult("performance", True, 1.0, "faster", timing),)
    evaluation = Evaluation(candidate, gates, 1)
    bundle = tmp_path / f"bundle-{dry_run}"
    delivered = Delivered(
        evaluation,
        bundle / "a.patch",
        bundle / "a.reverse.patch",
        bundle / "a.json",
        "ab" * 32,
        "bafkreiexamplecid",
    )
    return RunResult(
        run_id="r1",
        request=request,
        evaluations=[evaluation],
        delivered=[delivered],
        bundle_dir=bundle,
    )


def test_a_pull_request_reaches_outputs_summary_annotations_and_the_reply(
    tmp_path: Path, make_repo: Callable[..., Path]
) -> None:
    result = delivered_result(tmp_path, make_repo, dry_run=False)
    result.pull_request = PullRef(12, "https://github.com/octo-org/textops/pull/12", True, "b")
    made = outputs(result)
    assert made["pr-url"] == "https://github.com/octo-org/textops/pull/12"
    assert (made["pr-number"], made["accepted-count"], made["patch-cid"]) == (
        "12",
        "1",
        "bafkreiexamplecid",
    )
    assert "Draft pull request: https://github.com/octo-org/textops/pull/12" in summary(
        result, result.pull_request
    )
    notice = annotations_for(result, result.pull_request)[0]
    assert notice.command().startswith("::notice file=textops.py,line=1,title=selfimprove%3A ")
    assert "2.00x" in notice.message and "/pull/12" in notice.message
    assert "in https://github.com/octo-org/textops/pull/12" in finish_text(result, None)


def test_a_change_kept_as_a_bundle_is_a_warning_and_fails_only_when_asked(
    tmp_path: Path, make_repo: Callable[..., Path]
) -> None:
    result = delivered_result(tmp_path, make_repo, dry_run=False)
    result.github_fallback = "the core quota is near the reserve"
    levels = [a.level for a in annotations_for(result, None)]
    assert levels == ["notice", "warning"]
    assert "the core quota is near the reserve" in annotations_for(result, None)[1].message
    assert "bafkreiexamplecid" in finish_text(result, "https://run")
    dry = delivered_result(tmp_path, make_repo, dry_run=True)
    assert [a.level for a in annotations_for(dry, None)] == ["notice"]
    assert "(dry run)" in summary(dry, None)


def test_outputs_survive_values_that_look_like_output_syntax(tmp_path: Path) -> None:
    tricky = {
        "patch-cid": "bafkreione\nbafkreitwo",
        "bundle-path": "/tmp/a b/EOF\nforged=1",
        "pr-url": "",
        "accepted-count": "2",
    }
    target = tmp_path / "output"
    target.write_text("earlier=kept\n")
    write_outputs(target, tricky)
    assert read_outputs(target) == {"earlier": "kept", **tricky}


def test_annotation_escaping_follows_the_workflow_command_spec() -> None:
    note = Annotation("error", "50% done\r\nnext", file="src/a,b.py", line=3, title="x: y")
    assert note.command() == "::error file=src/a%2Cb.py,line=3,title=x%3A y::50%25 done%0D%0Anext"
    assert escape_data("a\n::set-output name=x::1") == "a%0A::set-output name=x::1"
    assert Annotation("notice", "plain").command() == "::notice::plain"


def test_an_empty_quota_before_the_run_fails_the_step_with_one_sentence(
    step: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    github: tuple[GitHubStandIn, RepoState],
) -> None:
    gh, repo = github
    gh.quota.remaining = 0  # resets in an hour: longer than any wait worth a job's time
    status, produced, written, out = step(
        "issue_comment", comment_event("/improve"), capsys, api_url=gh.url, github_token=gh.token
    )
    assert status == 1
    (line,) = [line for line in out.splitlines() if line.startswith("::error")]
    assert "GitHub could not be used" in line
    assert produced == {} and written == "" and repo.reactions == []


def test_a_summary_too_long_for_the_runner_is_cut_at_a_line(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    rows = "".join(f"| row {n} | é |\n" for n in range(200))
    append_summary(target, rows, limit=1000)
    written = target.read_text()
    assert len(written.encode()) <= 1000
    assert written.endswith("the full report is report.md in the bundle)_\n")
    body = written.split("\n_(cut")[0]
    assert rows.startswith(body) and body.endswith("|\n")
