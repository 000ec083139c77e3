"""``selfimprove action``: one GitHub Actions event in, a run, step outputs and a summary out.

The runner describes the event in ``GITHUB_EVENT_NAME`` and the payload file at
``GITHUB_EVENT_PATH``. ``schedule`` and ``workflow_dispatch`` run on the action's inputs
(a dispatch form's inputs win); ``issue_comment`` goes through the comment-command
handler (permission check, 👀, replies) and runs what it orders; ``repository_dispatch``
of type ``selfimprove-run`` runs an order the webhook server handed over. Any other
event is refused with one sentence and exit 2: a workflow wired to the wrong trigger
should turn red, not pass doing nothing.

The code worked on is always the checkout in ``GITHUB_WORKSPACE`` (the base repository's,
in the example workflows); a comment on a pull request names paths, it never brings the
pull request's code into the run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from bot.action_inputs import ActionInputs, build, credentials, read_inputs, with_command
from bot.action_inputs import with_dispatch as with_dispatch_inputs
from bot.core import sandbox, secrets
from bot.core.errors import UserError
from bot.flow.progress import Progress
from bot.flow.run import run
from bot.github import handoff
from bot.github.client import GitHubClient, GitHubUnavailable, RequestRefused
from bot.github.comments import RunOrder, finish, handle_comment
from bot.github.workflow_commands import (
    Annotation,
    append_summary,
    emit,
    resume_commands,
    stop_commands,
    write_outputs,
)
from bot.report.render import before_after, markdown
from bot.report.results import PullRef, RunResult, timing_json
from bot.report.stats import from_home
from bot.report.stats import markdown as stats_markdown

EXIT_USER_ERROR = 2
EXIT_FAIL_ON = 1
EXIT_GITHUB = 1
EVENTS = ("schedule", "workflow_dispatch", "issue_comment", "repository_dispatch")


@dataclass(frozen=True)
class Runner:
    """What the Actions runner tells a step about the event and where to write."""

    event_name: str
    event_path: Path
    repository: str
    workspace: Path
    temp_dir: Path
    api_url: str | None = None
    output_file: Path | None = None
    summary_file: Path | None = None
    run_url: str | None = None


def read_runner(env: Mapping[str, str]) -> Runner:
    """The runner's variables; a missing one means this is not a workflow step."""
    missing = [
        name
        for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_REPOSITORY")
        if not env.get(name)
    ]
    if missing:
        raise UserError(
            f"selfimprove action runs inside a GitHub Actions step: {missing[0]} is not set"
        )
    server, run_id = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_RUN_ID")
    return Runner(
        event_name=env["GITHUB_EVENT_NAME"],
        event_path=Path(env["GITHUB_EVENT_PATH"]),
        repository=env["GITHUB_REPOSITORY"],
        workspace=Path(env.get("GITHUB_WORKSPACE") or os.getcwd()),
        temp_dir=Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()),
        api_url=env.get("GITHUB_API_URL") or None,
        output_file=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
        summary_file=Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None,
        run_url=(
            f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{run_id}"
            if server and run_id
            else None
        ),
    )


def load_payload(path: Path) -> dict[str, Any]:
    """The event payload the runner wrote for this job."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read the event payload {path}: {exc.strerror}") from None
    except ValueError:
        raise UserError(f"the event payload {path} is not JSON") from None
    if not isinstance(payload, dict):
        raise UserError(f"the event payload {path} is not a JSON object")
    return payload


def main(env: Mapping[str, str], stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Handle the event this step was started for; the exit status of the step."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        runner = read_runner(env)
        inputs = read_inputs(env)
        payload = load_payload(runner.event_path)
        with secrets.hold(credentials(env)):  # where the GitHub, LLM and IPFS clients look
            return _route(runner, inputs, payload, stdout, stderr)
    except UserError as exc:
        emit([Annotation("error", str(exc), title="selfimprove")], stdout)
        stderr.write(f"selfimprove: error: {exc}\n")
        return EXIT_USER_ERROR
    except (GitHubUnavailable, RequestRefused) as exc:  # before a run: nothing to keep
        emit([Annotation("error", f"GitHub could not be used: {exc}", title="selfimprove")], stdout)
        stderr.write(f"selfimprove: GitHub could not be used: {exc}\n")
        return EXIT_GITHUB


def _route(
    runner: Runner,
    inputs: ActionInputs,
    payload: dict[str, Any],
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    event = runner.event_name
    if event == "schedule":
        return _conclude(runner, inputs, _improve(runner, inputs, stdout, stderr), stdout)
    if event == "workflow_dispatch":
        inputs = with_dispatch_inputs(inputs, payload.get("inputs"))
        return _conclude(runner, inputs, _improve(runner, inputs, stdout, stderr), stdout)
    if event == "issue_comment":
        with _client(runner) as client:
            order = handle_comment(payload, client, allowed_bots=inputs.allowed_bots)
            if order is None:
                emit([Annotation("notice", "no /improve run was ordered by this comment")], stdout)
                _write_outputs(runner, None)
                return 0
            return _run_order(runner, inputs, order, client, stdout, stderr)
    if event == "repository_dispatch":
        kind = payload.get("action")
        if kind != handoff.EVENT_TYPE:
            raise UserError(
                f"repository_dispatch of type {kind!r} is not for selfimprove "
                f"(it runs on type {handoff.EVENT_TYPE!r})"
            )
        client_payload = payload.get("client_payload")
        order = handoff.from_payload(client_payload if isinstance(client_payload, dict) else {})
        if order.repository.lower() != runner.repository.lower():
            raise UserError(f"the dispatched order is for {order.repository}, not this repository")
        with _client(runner) as client:
            return _run_order(runner, inputs, order, client, stdout, stderr)
    raise UserError(
        f"selfimprove does not run on the {event!r} event; use one of {', '.join(EVENTS)}"
    )


def _client(runner: Runner) -> GitHubClient:
    try:
        return GitHubClient.from_env(runner.repository, secrets.environ(), api_url=runner.api_url)
    except GitHubUnavailable as exc:
        raise UserError(f"comment commands need GitHub access: {exc.reason}") from None


def _run_order(
    runner: Runner,
    inputs: ActionInputs,
    order: RunOrder,
    client: GitHubClient,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Run what a comment ordered, then answer it (🚀 or 😕 and a reply) whatever happened."""
    try:
        result = _improve(runner, with_command(inputs, order.command), stdout, stderr)
    except UserError as exc:
        _answer(order, client, False, f"The run stopped: {exc}", stderr)
        raise
    except BaseException:
        text = "The run stopped before it finished" + (
            f"; the log is at {runner.run_url}." if runner.run_url else "."
        )
        _answer(order, client, False, text, stderr)
        raise
    code = _conclude(runner, inputs, result, stdout)
    _answer(order, client, True, finish_text(result, runner.run_url), stderr)
    return code


def _answer(order: RunOrder, client: GitHubClient, ok: bool, text: str, stderr: TextIO) -> None:
    """Reply to the comment; a GitHub outage here must not hide the run's own outcome."""
    try:
        finish(order, client, ok=ok, text=text)
    except (GitHubUnavailable, RequestRefused) as exc:
        stderr.write(f"selfimprove: could not reply to the comment: {exc}\n")


def _improve(runner: Runner, inputs: ActionInputs, stdout: TextIO, stderr: TextIO) -> RunResult:
    """One run on the workspace checkout; workflow commands are off while it prints."""
    request = build(inputs, runner.workspace, runner.temp_dir / "selfimprove-keys")
    progress = Progress(Console(file=stderr, highlight=False, width=140))
    token = stop_commands(stdout)
    try:
        return run(request, progress)
    finally:
        resume_commands(stdout, token)


def _conclude(runner: Runner, inputs: ActionInputs, result: RunResult, stdout: TextIO) -> int:
    """Outputs, summary and annotations; then the exit status ``fail-on`` asks for."""
    pull = pull_request_of(result)
    _write_outputs(runner, result)
    if runner.summary_file is not None:
        append_summary(runner.summary_file, summary(result, pull))
        append_summary(runner.summary_file, stats_markdown(from_home(result.request.home)))
    emit(annotations_for(result, pull), stdout)
    failure = None
    if "no-change" in inputs.fail_on and not result.delivered:
        failure = "no change was accepted (fail-on: no-change)"
    elif "fallback" in inputs.fail_on and fell_back(result, pull):
        failure = "the changes were bundled, not opened as a pull request (fail-on: fallback)"
    if failure is None:
        return 0
    emit([Annotation("error", failure, title="selfimprove")], stdout)
    return EXIT_FAIL_ON


def pull_request_of(result: RunResult) -> PullRef | None:
    """The draft pull request the run opened or updated, if it delivered to GitHub."""
    return result.pull_request


def fell_back(result: RunResult, pull: PullRef | None) -> bool:
    """Accepted changes that should have become a pull request but stayed a bundle."""
    return not result.request.dry_run and bool(result.delivered) and pull is None


def outputs(result: RunResult | None) -> dict[str, str]:
    """The step outputs declared in action.yml (empty strings when there is nothing)."""
    if result is None:
        return dict.fromkeys(("pr-url", "pr-number", "bundle-path", "patch-cid"), "") | {
            "accepted-count": "0"
        }
    pull = pull_request_of(result)
    return {
        "pr-url": pull.url if pull else "",
        "pr-number": str(pull.number) if pull else "",
        "bundle-path": str(result.bundle_dir) if result.bundle_dir else "",
        "patch-cid": "\n".join(d.patch_cid for d in result.delivered),
        "accepted-count": str(len(result.delivered)),
    }


def _write_outputs(runner: Runner, result: RunResult | None) -> None:
    if runner.output_file is not None:
        write_outputs(runner.output_file, outputs(result))


def summary(result: RunResult, pull: PullRef | None) -> str:
    """The job summary: where the changes went, then the run's Markdown report."""
    count = len(result.delivered)
    if pull is not None:
        where = f"{'Draft pull request' if pull.draft else 'Pull request'}: {pull.url}"
    elif count:
        where = f"Patch bundle: `{result.bundle_dir}`" + (
            " (dry run)" if result.request.dry_run else " (not opened as a pull request)"
        )
    else:
        where = "No change passed all seven gates."
    confined = f"Sandbox: {sandbox.label(result.request)}"
    head = f"## selfimprove: {count} accepted change(s)\n\n{where}\n\n{confined}\n\n"
    return head + markdown(result)


def annotations_for(result: RunResult, pull: PullRef | None) -> list[Annotation]:
    """A notice on each improved function, the run's notes, a warning when GitHub was skipped."""
    found: list[Annotation] = []
    request = result.request
    for delivered in result.delivered:
        target = delivered.evaluation.candidate.target
        _before, _after, ratio = before_after(timing_json(delivered.evaluation))
        where = pull.url if pull else f"CID {delivered.patch_cid}"
        found.append(
            Annotation(
                "notice",
                f"{target.qualname}: {ratio} with {delivered.evaluation.candidate.rule}; {where}",
                file=request.repo_relative(target.file),
                line=target.line or None,
                title="selfimprove: faster",
            )
        )
    found.extend(Annotation("notice", note) for note in result.notes)
    if fell_back(result, pull):
        found.append(
            Annotation(
                "warning",
                f"{len(result.delivered)} accepted change(s) were kept as a patch bundle, "
                f"not opened as a pull request: {result.github_fallback or 'see the notes'}",
                title="selfimprove",
            )
        )
    return found


def finish_text(result: RunResult, run_url: str | None) -> str:
    """The reply to an ``/improve`` comment: the pull request, the bundle's CIDs, or why not."""
    log = f" The [workflow run]({run_url}) has the full report." if run_url else ""
    pull = pull_request_of(result)
    count = len(result.delivered)
    if pull is not None:
        return f"{count} accepted change(s) in {pull.url}.{log}"
    if count:
        cids = ", ".join(f"`{d.patch_cid}`" for d in result.delivered)
        how = "as asked (dry run)" if result.request.dry_run else "because no pull request opened"
        return f"{count} accepted change(s), delivered as a patch bundle {how}: {cids}.{log}"
    tried = len(result.evaluations)
    return f"No change passed all seven gates ({tried} candidate(s) tried).{log}"
