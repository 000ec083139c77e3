"""The one GitHub client of the bot: githubkit's typed REST API over a governed transport.

Every call goes through :class:`~bot.github.transport.GovernedTransport` (ETag cache,
rate-limit governor, patient retries). What cannot be done now — no credentials, quota
near the reserve, a wait longer than the cap, the API down or refusing the token — is
raised as :class:`GitHubUnavailable`, and the caller delivers the patch bundle instead.

Answers are read from their JSON for the few fields the bot needs rather than validated
against githubkit's full models, so a schema change in a field the bot never reads
cannot stop a delivery. App credentials are exchanged once, lazily, for an installation
token (JWT signed by githubkit's ``AppAuthStrategy``); that token also pushes the branch.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, cast

import httpx
from githubkit import GitHub
from githubkit.auth import AppAuthStrategy, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RequestError, RequestFailed

from bot.core.errors import UserError
from bot.github.credentials import (
    AppCredentials,
    Credentials,
    TokenCredentials,
    api_url_from_env,
    credentials_from_env,
)
from bot.github.governor import Governor
from bot.github.transport import AnswerCache, GitHubUnavailable, GovernedTransport
from bot.report.results import PullRef, Usage

__all__ = ["GitHubClient", "GitHubUnavailable", "IssueRef", "PullRef", "RequestRefused"]

USER_AGENT = "selfimprove/0.1 (+https://github.com/selfimprove)"
TIMEOUT = 30.0
ROLES = ("admin", "maintain", "write", "triage", "read", "none")
ReactionContent = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


@dataclass(frozen=True)
class IssueRef:
    """An issue as the dashboard needs it."""

    number: int
    url: str
    title: str
    body: str


class RequestRefused(Exception):
    """GitHub answered a 4xx the caller may handle (``status``, ``message`` incl. details)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"GitHub answered {status}: {message}")
        self.status = status
        self.message = message


class GitHubClient:
    """One repository's API, one token, one governor and one ETag cache."""

    def __init__(
        self,
        repository: str,
        credentials: Credentials,
        *,
        api_url: str,
        governor: Governor | None = None,
        sleep: Callable[[float], None] = time.sleep,
        cache: AnswerCache | None = None,
        inner_transport: httpx.BaseTransport | None = None,
    ) -> None:
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise UserError(f"a GitHub repository is owner/name, not {repository!r}")
        self.repository = repository
        self.owner, self.name = owner, name
        self.api_url = api_url.rstrip("/")
        self.credentials = credentials
        self.governor = governor or Governor(time.time)
        inner = inner_transport or httpx.HTTPTransport(proxy=_proxy_for(self.api_url))
        self._transport = GovernedTransport(self.governor, inner=inner, cache=cache, sleep=sleep)
        self._token: str | None = (
            credentials.token if isinstance(credentials, TokenCredentials) else None
        )
        self._github: GitHub[TokenAuthStrategy] | None = None

    @classmethod
    def from_env(
        cls,
        repository: str,
        env: Mapping[str, str],
        *,
        api_url: str | None = None,
        governor: Governor | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> GitHubClient:
        """A client from ``env``'s token or App; no credentials -> :class:`GitHubUnavailable`."""
        credentials = credentials_from_env(env)
        if credentials is None:
            raise GitHubUnavailable(
                "no GitHub credentials: set GITHUB_TOKEN (or SELFIMPROVE_GITHUB_TOKEN, GH_TOKEN) "
                "or SELFIMPROVE_APP_ID with SELFIMPROVE_APP_PRIVATE_KEY"
            )
        return cls(
            repository,
            credentials,
            api_url=api_url_from_env(env, api_url),
            governor=governor,
            sleep=sleep,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._transport.shutdown()

    # ----- the contract ---------------------------------------------------------------

    def permission(self, user: str) -> str:
        """The user's role here: admin, maintain, write, triage, read or none."""
        try:
            with self._api() as gh:
                data = gh.rest.repos.get_collaborator_permission_level(
                    self.owner, self.name, user
                ).json()
        except RequestRefused as refused:
            if refused.status == 404:
                return "none"
            raise
        role = str(data.get("role_name") or "")
        return role if role in ROLES else str(data.get("permission") or "none")

    def add_reaction(self, comment_id: int, content: str) -> None:
        """React to an issue comment ("eyes", "rocket", "confused"); repeating is harmless."""
        with self._api() as gh:
            gh.rest.reactions.create_for_issue_comment(
                self.owner, self.name, comment_id, content=_reaction(content)
            )

    def create_comment(self, issue_number: int, body: str) -> str:
        """Post a comment on an issue or pull request; returns its html_url."""
        with self._api() as gh:
            data = gh.rest.issues.create_comment(
                self.owner, self.name, issue_number, body=body
            ).json()
        return str(data["html_url"])

    def find_open_pull(self, branch: str) -> PullRef | None:
        """The open pull request whose head is ``owner:branch`` in this repository."""
        with self._api() as gh:
            found = gh.rest.pulls.list(
                self.owner, self.name, state="open", head=f"{self.owner}:{branch}"
            ).json()
        for pull in found:
            if pull["head"]["ref"] == branch:
                return _pull_ref(pull)
        return None

    def find_pull(self, branch: str) -> PullRef | None:
        """The branch's open pull request, else its latest closed one, else ``None``."""
        with self._api() as gh:
            found = gh.rest.pulls.list(
                self.owner, self.name, state="all", head=f"{self.owner}:{branch}"
            ).json()
        ours = [_pull_ref(p) for p in found if p["head"]["ref"] == branch]
        ours.sort(key=lambda pull: (pull.state == "open", pull.number))
        return ours[-1] if ours else None

    def open_pulls(self, prefix: str) -> list[PullRef]:
        """Open pull requests whose head branch starts with ``prefix`` (first 100)."""
        with self._api() as gh:
            found = gh.rest.pulls.list(self.owner, self.name, state="open", per_page=100).json()
        return [_pull_ref(p) for p in found if p["head"]["ref"].startswith(prefix)]

    def recent_pulls(self) -> list[PullRef]:
        """The latest 100 pull requests, open and closed, with labels and merge state.

        One read gives the bot its memory (closed and merged ones) and its caps (open ones).
        """
        with self._api() as gh:
            found = gh.rest.pulls.list(
                self.owner, self.name, state="all", sort="created", direction="desc", per_page=100
            ).json()
        return [_pull_ref(p) for p in found]

    def find_issue(self, label: str) -> IssueRef | None:
        """The oldest open issue carrying ``label`` (pull requests excluded), if any."""
        with self._api() as gh:
            found = gh.rest.issues.list_for_repo(
                self.owner, self.name, state="open", labels=label, per_page=100
            ).json()
        listed = cast(list[dict[str, Any]], found)
        issues = [i for i in listed if not i.get("pull_request")]
        issues.sort(key=lambda issue: int(issue["number"]))
        return _issue_ref(issues[0]) if issues else None

    def create_issue(self, *, title: str, body: str, labels: list[str]) -> IssueRef:
        """Open an issue (GitHub creates unknown labels)."""
        with self._api() as gh:
            data = gh.rest.issues.create(
                self.owner, self.name, title=title, body=body, labels=list(labels)
            ).json()
        return _issue_ref(data)

    def update_issue(self, number: int, *, body: str) -> IssueRef:
        """Replace an issue's body."""
        with self._api() as gh:
            data = gh.rest.issues.update(self.owner, self.name, number, body=body).json()
        return _issue_ref(data)

    def create_pull(self, *, title: str, head: str, base: str, body: str, draft: bool) -> PullRef:
        """``POST /pulls``; a 422 (exists, drafts unsupported) is :class:`RequestRefused`."""
        with self._api() as gh:
            data = gh.rest.pulls.create(
                self.owner, self.name, title=title, head=head, base=base, body=body, draft=draft
            ).json()
        return _pull_ref(data)

    def update_pull(self, number: int, *, title: str, body: str) -> PullRef:
        """Replace a pull request's title and body."""
        with self._api() as gh:
            data = gh.rest.pulls.update(
                self.owner, self.name, number, title=title, body=body
            ).json()
        return _pull_ref(data)

    def add_labels(self, issue_number: int, labels: list[str]) -> None:
        """Add labels to an issue or pull request (GitHub creates unknown ones)."""
        with self._api() as gh:
            gh.rest.issues.add_labels(self.owner, self.name, issue_number, labels=labels)

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None:
        """Start ``workflow`` (file name or id) on ``ref`` with ``inputs``."""
        with self._api() as gh:
            gh.rest.actions.create_workflow_dispatch(
                self.owner, self.name, workflow, ref=ref, inputs=dict(inputs)
            )

    def repository_dispatch(self, event_type: str, payload: Mapping[str, object]) -> None:
        """Send a ``repository_dispatch`` event with ``client_payload``."""
        with self._api() as gh:
            gh.rest.repos.create_dispatch_event(
                self.owner, self.name, event_type=event_type, client_payload=dict(payload)
            )

    def default_branch(self) -> str:
        """The repository's default branch (a repeat read is a free 304)."""
        with self._api() as gh:
            return str(gh.rest.repos.get(self.owner, self.name).json()["default_branch"])

    def usage(self) -> Usage:
        """Requests made, 304s served, quota left: for the run's report."""
        return self.governor.usage()

    def token(self) -> str:
        """The token in use (an App's installation token once exchanged), for ``git push``."""
        if self._token is None:
            self._token = self._installation_token()
        return self._token

    # ----- plumbing -------------------------------------------------------------------

    @contextmanager
    def _api(self) -> Iterator[GitHub[TokenAuthStrategy]]:
        """githubkit's client, with its failures turned into ours."""
        try:
            if self._github is None:
                self._github = self._make(TokenAuthStrategy(self.token()))
            yield self._github
        except RequestFailed as failed:
            raise _refusal(failed) from None
        except RequestError as error:
            if isinstance(error.exc, GitHubUnavailable):
                raise error.exc from None
            raise GitHubUnavailable(f"the GitHub API could not be reached: {error.exc}") from None
        except GitHubException as other:
            raise GitHubUnavailable(f"GitHub could not be used: {other!r}") from None

    def _make(self, auth: Any) -> GitHub[Any]:
        return GitHub(
            auth,
            base_url=self.api_url + "/",
            user_agent=USER_AGENT,
            timeout=TIMEOUT,
            transport=self._transport,
            http_cache=False,
            auto_retry=False,
            cache_strategy=MemCacheStrategy(),
            trust_env=False,  # proxies are the inner transport's job: nothing may bypass ours
        )

    def _installation_token(self) -> str:
        credentials = self.credentials
        assert isinstance(credentials, AppCredentials)
        app: GitHub[AppAuthStrategy] = self._make(
            AppAuthStrategy(credentials.app_id, credentials.private_key)
        )
        try:
            installation = credentials.installation_id
            if installation is None:
                found = app.rest.apps.get_repo_installation(self.owner, self.name).json()
                installation = int(found["id"])
            granted = app.rest.apps.create_installation_access_token(installation).json()
            return str(granted["token"])
        except RequestFailed as failed:
            why = error_message(failed.response.raw_response)
            raise GitHubUnavailable(
                f"the GitHub App could not get a token for {self.repository}: "
                f"{failed.response.status_code} {why}"
            ) from None
        except RequestError as error:
            if isinstance(error.exc, GitHubUnavailable):
                raise error.exc from None
            raise GitHubUnavailable(f"the GitHub API could not be reached: {error.exc}") from None


def _reaction(content: str) -> ReactionContent:
    if content not in REACTIONS:
        raise ValueError(f"not a GitHub reaction: {content!r}")
    return cast(ReactionContent, content)


def _pull_ref(data: Mapping[str, Any]) -> PullRef:
    return PullRef(
        number=int(data["number"]),
        url=str(data["html_url"]),
        draft=bool(data.get("draft", False)),
        head=str(data["head"]["ref"]),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        state=str(data.get("state") or "open"),
        labels=tuple(str(label.get("name")) for label in data.get("labels") or ()),
        merged=bool(data.get("merged_at")),
        created_at=str(data.get("created_at") or ""),
    )


def _issue_ref(data: Mapping[str, Any]) -> IssueRef:
    return IssueRef(
        number=int(data["number"]),
        url=str(data["html_url"]),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
    )


def _refusal(failed: RequestFailed) -> RequestRefused | GitHubUnavailable:
    """A 4xx the caller may handle, or (401, 403, 5xx) a reason to stop using GitHub."""
    status = failed.response.status_code
    message = error_message(failed.response.raw_response)
    if status in (401, 403) or status >= 500:
        return GitHubUnavailable(f"GitHub answered {status}: {message}")
    return RequestRefused(status, message)


def error_message(response: httpx.Response) -> str:
    """GitHub's error ``message`` with the ``errors[].message`` details it names."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if not isinstance(data, dict):
        return str(data)[:200]
    parts = [str(data.get("message") or response.reason_phrase)]
    for item in data.get("errors") or []:
        if isinstance(item, dict) and item.get("message"):
            parts.append(str(item["message"]))
        elif isinstance(item, dict) and item.get("field"):
            parts.append(f"{item.get('field')} is {item.get('code', 'invalid')}")
    return ": ".join(parts)


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (honouring no_proxy), if any."""
    parsed = httpx.URL(url)
    if urllib.request.proxy_bypass(parsed.host):
        return None
    return urllib.request.getproxies().get(parsed.scheme)
