"""Deliver a run's accepted changes as one draft pull request, idempotently.

Called after the bundle is on disk, so whatever happens here loses nothing. The flow,
in its request budget (a fresh PR: 3 requests; a re-run: 3, or 2 when nothing changed):

1. ``GET /repos/{o}/{r}`` for the default branch (the bot never pushes to it), then
   ask the governor whether the rest fits above the reserve; if not, stop before any
   side effect: :class:`GitHubUnavailable`, and the bundle is the delivery.
2. Commit each accepted patch (``git am``, one commit per change) in a temporary
   detached worktree of the base commit, never the user's tree; force-push it to the
   deterministic branch ``selfimprove/<slug>-<hash8>``.
3. Update the branch's open pull request (looked up by ``head=owner:branch`` before the
   push: one a person closed is never reopened), or ``POST /pulls`` with ``draft: true``.
   A 422 "already exists" (a retried or racing create) means look up and update; a 422
   "drafts not supported" means a normal pull request with the ``selfimprove`` label and
   a line in the body.

Changes that touch ``.github/workflows`` are never pushed (the bot must not change CI);
they stay in the bundle and the body says so.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import git

from bot.core import repo_guard, secrets
from bot.core.request import Request
from bot.core.worktree import Worktrees
from bot.github import pulls
from bot.github.client import GitHubClient, GitHubUnavailable, RequestRefused
from bot.github.governor import Governor
from bot.github.pulls import LeftOut
from bot.report.results import Delivered, PullRef, RunResult

PLANNED_REQUESTS = 5  # after the first read: list, create, create again, label, look-up
DEFAULT_REMOTE = "origin"
COMMITTER = ("selfimprove", "selfimprove@users.noreply.github.com")
FORBIDDEN = PurePosixPath(".github/workflows")


def deliver_run(
    request: Request,
    result: RunResult,
    env: Mapping[str, str],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """The orchestrator's step: a PR for the run, or the reason the bundle stands alone.

    Sets ``pull_request``, ``github_fallback`` and ``github_usage`` on ``result`` and
    returns the lines worth telling the user. Never raises :class:`GitHubUnavailable`:
    the bundle is on disk, so falling back loses nothing.
    """
    if request.dry_run or not result.delivered or request.github_repository is None:
        return []

    def act(client: GitHubClient) -> list[str]:
        pull = deliver_pull_request(request, result, client)
        result.pull_request = pull
        return [f"{'draft ' if pull.draft else ''}pull request #{pull.number}: {pull.url}"]

    return with_client(request, result, env, act, sleep=sleep)


def with_client(
    request: Request,
    result: RunResult,
    env: Mapping[str, str],
    act: Callable[[GitHubClient], list[str]],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Run ``act`` with a governed client; GitHub unavailable means the bundle, and a note.

    Sets ``github_fallback`` and ``github_usage`` on ``result``.
    """
    assert request.github_repository is not None
    governor = Governor(time.time, reserve=request.rate_reserve)
    try:
        with GitHubClient.from_env(
            request.github_repository,
            secrets.with_held(env),
            api_url=request.github_api_url,
            governor=governor,
            sleep=sleep,
        ) as client:
            lines = act(client)
    except GitHubUnavailable as unavailable:
        result.github_fallback = unavailable.reason
        lines = [f"no pull request ({unavailable.reason}): the bundle is the delivery"]
    usage = governor.usage()
    result.github_usage = usage if usage.requests else None
    return lines


def deliver_pull_request(
    request: Request,
    result: RunResult,
    client: GitHubClient,
    *,
    remote: str | None = None,
    preface: Sequence[str] = (),
) -> PullRef:
    """Open or update the run's pull request; :class:`GitHubUnavailable` when it cannot.

    ``preface`` opens the body (the noise policy's impact lines and memory markers).
    """
    allowed, left_out = split_allowed(result.delivered)
    if not allowed:
        reasons = "; ".join(item.reason for item in left_out) or "no accepted change"
        raise GitHubUnavailable(f"nothing to open a pull request with: {reasons}")
    branch = pulls.branch_name(request)
    _require_budget(client, PLANNED_REQUESTS + 1)
    default = client.default_branch()
    if branch == default or not branch.startswith(pulls.BRANCH_PREFIX):
        raise GitHubUnavailable(f"refusing to push to {branch!r}: it is the default branch")
    _require_budget(client, PLANNED_REQUESTS)
    earlier = client.find_pull(branch)
    if earlier is not None and earlier.state != "open":
        raise GitHubUnavailable(
            f"pull request #{earlier.number} for this branch was closed, and the bot does not "
            "reopen what a person closed"
        )
    committed, conflicts = push_changes(request, result.run_id, allowed, branch, client, remote)
    left_out = [*left_out, *conflicts]
    if not committed:
        raise GitHubUnavailable("no accepted change applied on the base commit together")
    title = pulls.title(committed)

    def body_for(draft_unavailable: bool) -> str:
        return pulls.body(
            request,
            result,
            committed,
            branch,
            left_out=left_out,
            draft_unavailable=draft_unavailable,
            preface=preface,
        )

    if earlier is not None:
        return _update(
            client, earlier, title, body_for(pulls.says_drafts_unavailable(earlier.body))
        )
    try:
        return client.create_pull(
            title=title, head=branch, base=default, body=body_for(False), draft=True
        )
    except RequestRefused as refused:
        if refused.status != 422:
            raise GitHubUnavailable(f"GitHub refused the pull request: {refused.message}") from None
        if "already exists" in refused.message:
            found = client.find_open_pull(branch)
            if found is None:
                raise GitHubUnavailable(
                    f"GitHub said {refused.message!r}, but none is open"
                ) from None
            return _update(
                client, found, title, body_for(pulls.says_drafts_unavailable(found.body))
            )
        if "draft" not in refused.message.lower():
            raise GitHubUnavailable(f"GitHub refused the pull request: {refused.message}") from None
    pull = _create_plain(client, title, branch, default, body_for(True))
    client.add_labels(pull.number, [pulls.LABEL])
    return pull


def split_allowed(changes: Sequence[Delivered]) -> tuple[list[Delivered], list[LeftOut]]:
    """The changes the bot may push, and those it must not (they touch CI workflows)."""
    allowed: list[Delivered] = []
    left_out: list[LeftOut] = []
    for change in changes:
        touched = [f for f in change.evaluation.candidate.files if _is_workflow(f)]
        if touched:
            reason = f"it changes {touched[0]}, and the bot never touches .github/workflows"
            left_out.append(LeftOut(change, reason))
        else:
            allowed.append(change)
    return allowed, left_out


def push_changes(
    request: Request,
    run_id: str,
    changes: Sequence[Delivered],
    branch: str,
    client: GitHubClient,
    remote: str | None = None,
) -> tuple[list[Delivered], list[LeftOut]]:
    """Commit each patch on the base in a temporary worktree and force-push it to ``branch``."""
    if not branch.startswith(pulls.BRANCH_PREFIX):
        raise ValueError(f"the bot only pushes {pulls.BRANCH_PREFIX}* branches, not {branch}")
    target = resolve_remote(request.repo_root, remote or request_remote(request))
    committed: list[Delivered] = []
    left_out: list[LeftOut] = []
    with Worktrees(request.repo_root, request.home, f"{run_id}-pull-request") as trees:
        tree = git.Repo(trees.add("branch", request.base_commit))
        quiet = _quiet_git(tree)
        for change in changes:
            try:
                quiet("am", "--3way", "--keep-cr", str(change.patch))
            except git.GitCommandError as exc:
                with contextlib.suppress(git.GitCommandError):
                    quiet("am", "--abort")
                why = (exc.stderr or "").strip().splitlines()
                detail = why[-1] if why else "git am failed"
                left_out.append(LeftOut(change, f"it does not apply with the others ({detail})"))
                continue
            committed.append(change)
        if committed:
            repo_guard.verify(request.repo_root, [request.output_dir, request.home])
            _push(tree, target, branch, client)
    return committed, left_out


def request_remote(request: Request) -> str:
    """Where the branch goes: the request's push remote, else ``origin``."""
    configured = getattr(request, "push_remote", None)
    return str(configured) if configured else DEFAULT_REMOTE


def resolve_remote(repo_root: Path, remote: str) -> str:
    """A remote's URL (a configured name, a URL, or a local path to a repository)."""
    if "://" in remote or remote.startswith(("/", "git@", ".")) or Path(remote).is_dir():
        return remote
    try:
        return str(git.Repo(repo_root).remote(remote).url)
    except ValueError:
        raise GitHubUnavailable(
            f"the repository has no git remote {remote!r} to push the branch to "
            "(set push-remote or --push-remote)"
        ) from None


def _push(tree: git.Repo, url: str, branch: str, client: GitHubClient) -> None:
    env = _auth_env(url, client.token) if url.startswith("https://") else {}
    try:
        tree.git(c="core.hooksPath=/dev/null").push(
            "--force", "--no-verify", "--quiet", url, f"HEAD:refs/heads/{branch}", env=env
        )
    except git.GitCommandError as exc:
        lines = (exc.stderr or "").strip().splitlines()
        raise GitHubUnavailable(
            f"could not push {branch}: {lines[-1] if lines else 'git push failed'}"
        ) from None


def _auth_env(url: str, token: Callable[[], str]) -> dict[str, str]:
    """git config, by environment (never argv), sending the token to ``url``'s host only.

    An empty value first clears any header a checkout left (actions/checkout persists
    one for GITHUB_TOKEN), so the bot's own token (an App's, say) is the one used.
    """
    parts = urlsplit(url)
    key = f"http.{parts.scheme}://{parts.hostname}/.extraheader"
    secret = base64.b64encode(f"x-access-token:{token()}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": key,
        "GIT_CONFIG_VALUE_0": "",
        "GIT_CONFIG_KEY_1": key,
        "GIT_CONFIG_VALUE_1": f"AUTHORIZATION: basic {secret}",
        "GIT_TERMINAL_PROMPT": "0",
    }


def _quiet_git(tree: git.Repo) -> Callable[..., str]:
    """Run git in ``tree`` as the bot: its identity, no hooks, no signing prompts."""
    name, email = COMMITTER
    options = [
        f"user.name={name}",
        f"user.email={email}",
        "core.hooksPath=/dev/null",
        "commit.gpgsign=false",
    ]

    def call(command: str, *args: str) -> str:
        return str(getattr(tree.git(c=options), command)(*args))

    return call


def _update(client: GitHubClient, pull: PullRef, title: str, body: str) -> PullRef:
    if pull.title == title and pull.body.strip() == body.strip():
        return pull  # nothing changed: no write
    return client.update_pull(pull.number, title=title, body=body)


def _create_plain(client: GitHubClient, title: str, branch: str, base: str, body: str) -> PullRef:
    try:
        return client.create_pull(title=title, head=branch, base=base, body=body, draft=False)
    except RequestRefused as refused:
        if refused.status == 422 and "already exists" in refused.message:
            found = client.find_open_pull(branch)
            if found is not None:
                return _update(client, found, title, body)
        raise GitHubUnavailable(f"GitHub refused the pull request: {refused.message}") from None


def _require_budget(client: GitHubClient, planned: int) -> None:
    governor = client.governor
    if governor.should_fall_back(planned):
        left = governor.remaining()
        raise GitHubUnavailable(
            f"{left} GitHub requests left and {planned} needed would go below the reserve "
            f"of {governor.reserve}: delivering the bundle instead"
        )


def _is_workflow(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return parts[:2] == FORBIDDEN.parts
