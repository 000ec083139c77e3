"""A GitHub REST API stand-in on 127.0.0.1, for tests and benchmarks.

A real threaded HTTP server on an ephemeral port that answers like api.github.com for
the endpoints the bot uses, with GitHub's documented JSON shapes, ``ETag`` + ``304``,
``x-ratelimit-*`` headers from a scriptable quota, one-shot faults, and a log of every
request. Usage::

    with GitHubStandIn() as gh:                     # gh.url is the API base URL
        repo = gh.add_repo("octo/demo", remote=bare_repo_path)   # remote: optional
        repo.permissions["alice"] = "write"         # collaborators/{u}/permission
        env = {"GITHUB_TOKEN": gh.token}            # a token the stand-in accepts
        client = GitHubClient.from_env("octo/demo", env, api_url=gh.url)
        gh.fail_next("POST", r"/repos/octo/demo/pulls", 403,
                     {"message": "You have exceeded a secondary rate limit."},
                     headers={"retry-after": "0"})  # one-shot fault
        gh.quota.remaining = 101                    # what x-ratelimit-remaining says next
        repo.drafts_supported = False               # POST /pulls with draft -> 422
        gh.route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/hooks",
                 lambda gh, seen, match: Reply.json(200, []))   # extra endpoint
        gh.requests, gh.statuses                    # every request and its status, in order
        gh.count("POST", "/repos/octo/demo/pulls")  # how many such requests arrived

An App: ``gh.add_app(app_id, public_key_pem)``; ``POST /app/installations/{id}/access_tokens``
checks the RS256 JWT against that key and issues a fresh token. Tokens are checked on
every request (``Authorization: token X`` or ``Bearer X``); a request without one is 401.
A ``304`` costs no quota, as on GitHub.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import jwt

from tests.loopback import Reply, Seen, StandIn

DOCS = "https://docs.github.com/rest"
RESET_IN = 3600  # the quota window the stand-in reports, seconds from start


def error(status: int, message: str, docs: str = DOCS, **extra: Any) -> Reply:
    """GitHub's error body: ``message``, ``documentation_url``, ``status``."""
    return Reply.json(
        status, {"message": message, "documentation_url": docs, "status": str(status), **extra}
    )


def validation_failed(message: str, resource: str = "PullRequest") -> Reply:
    """A 422 the way GitHub words "Validation Failed" with one custom error."""
    errors = [{"resource": resource, "code": "custom", "message": message}]
    return error(
        422, "Validation Failed", f"{DOCS}/pulls/pulls#create-a-pull-request", errors=errors
    )


@dataclass
class Quota:
    """The primary limit as the next response reports it; decremented per counted request."""

    limit: int = 5000
    remaining: int = 5000
    reset: int = 0
    resource: str = "core"

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Used": str(self.limit - self.remaining),
            "X-RateLimit-Resource": self.resource,
        }


@dataclass
class Fault:
    """A scripted answer to the next ``times`` requests matching ``method`` and ``path``."""

    method: str
    path: re.Pattern[str]
    reply: Reply
    times: int = 1


@dataclass
class RepoState:
    """One repository's server-side state."""

    owner: str
    name: str
    id: int
    default_branch: str = "main"
    private: bool = False
    drafts_supported: bool = True
    remote: Path | None = None  # a bare git repository: POST /pulls checks the head exists
    installation_id: int | None = None
    permissions: dict[str, str] = field(default_factory=dict)  # login -> role name
    pulls: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)  # plain issues, not pulls
    comments: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[int, list[str]] = field(default_factory=dict)  # issue number -> names
    workflow_dispatches: list[dict[str, Any]] = field(default_factory=list)
    repository_dispatches: list[dict[str, Any]] = field(default_factory=list)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


Handler = Callable[["GitHubStandIn", Seen, re.Match[str]], Reply]
_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_LEGACY = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}


def user_json(login: str, id: int, kind: str = "User") -> dict[str, Any]:
    """A simple-user object."""
    return {
        "login": login,
        "id": id,
        "node_id": f"U_{id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{id}?v=4",
        "gravatar_id": "",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": kind,
        "site_admin": False,
    }


class GitHubStandIn(StandIn):
    """The server, its state and its request log. Use as a context manager."""

    keep_alive = True

    def __init__(self, *, token: str = "ghs_standin_token") -> None:
        self.token = token
        self.tokens: dict[str, str] = {token: "selfimprove[bot]"}  # token -> login
        self.apps: dict[int, str] = {}  # app id -> public key PEM
        self.repos: dict[str, RepoState] = {}
        self.quota = Quota()
        self.faults: list[Fault] = []
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._ids = itertools.count(1000)
        super().__init__()
        self._register_defaults()

    def __enter__(self) -> Self:
        self.quota.reset = int(time.time()) + RESET_IN
        return super().__enter__()

    # ----- scripting -----------------------------------------------------------------

    def add_repo(self, full_name: str, **fields: Any) -> RepoState:
        owner, name = full_name.split("/")
        state = RepoState(owner=owner, name=name, id=next(self._ids), **fields)
        self.repos[full_name.lower()] = state
        return state

    def add_app(self, app_id: int, public_key_pem: str) -> None:
        """Accept JWTs signed for ``app_id`` by the private half of ``public_key_pem``."""
        self.apps[app_id] = public_key_pem

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer ``method`` on paths fully matching ``pattern``; later routes win."""
        self.routes.insert(0, (method.upper(), re.compile(pattern), handler))

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (and rate headers)."""
        reply = Reply.json(status, {"message": "stand-in fault"} if body is None else body, headers)
        self.faults.append(Fault(method.upper(), re.compile(path), reply, times))

    def count(self, method: str, path: str | None = None) -> int:
        """How many requests with ``method`` (and exactly ``path``) arrived."""
        return sum(
            1
            for r in self.requests
            if r.method == method.upper() and (path is None or r.path == path)
        )

    def repo(self, match: re.Match[str]) -> RepoState | None:
        return self.repos.get(f"{match['owner']}/{match['repo']}".lower())

    def new_id(self) -> int:
        return next(self._ids)

    # ----- answering -----------------------------------------------------------------

    def answer(self, seen: Seen) -> Reply:
        identity = self._authenticate(seen)
        if identity is None:
            return self._with_quota(error(401, "Bad credentials"), count=False)
        for fault in self.faults:
            if fault.method == seen.method and fault.path.fullmatch(seen.path) and fault.times > 0:
                fault.times -= 1
                self.faults = [f for f in self.faults if f.times > 0]
                return self._with_quota(
                    Reply(fault.reply.status, fault.reply.body, dict(fault.reply.headers)),
                    count=True,
                )
        if self.quota.remaining <= 0:
            reply = error(403, f"API rate limit exceeded for installation ID {identity}.")
            return self._with_quota(reply, count=False)
        reply = self._route(seen)
        if seen.method == "GET" and reply.status == 200:
            etag = 'W/"' + hashlib.sha256(reply.body).hexdigest()[:32] + '"'
            if seen.headers.get("if-none-match") == etag:
                return self._with_quota(Reply(304, b"", {"ETag": etag}), count=False)
            reply.headers["ETag"] = etag
            reply.headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            reply.headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
        return self._with_quota(reply, count=True)

    def _with_quota(self, reply: Reply, *, count: bool) -> Reply:
        if count and self.quota.remaining > 0:
            self.quota.remaining -= 1
        reply.headers = {**self.quota.headers(), **reply.headers}
        reply.headers.setdefault("X-GitHub-Api-Version-Selected", "2022-11-28")
        reply.headers.setdefault("X-GitHub-Request-Id", f"STANDIN:{len(self.requests)}")
        return reply

    def _authenticate(self, seen: Seen) -> str | None:
        """The caller's login, "app:<id>" for a valid App JWT, or ``None``."""
        scheme, _, credential = seen.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("token", "bearer") or not credential:
            return None
        if credential in self.tokens:
            return self.tokens[credential]
        for app_id, key in self.apps.items():
            with contextlib.suppress(jwt.PyJWTError):
                claims = jwt.decode(credential, key, algorithms=["RS256"])
                if str(claims.get("iss")) == str(app_id):
                    return f"app:{app_id}"
        return None

    def _route(self, seen: Seen) -> Reply:
        for method, pattern, handler in self.routes:
            if method != seen.method:
                continue
            match = pattern.fullmatch(seen.path)
            if match is None:
                continue
            if match.groupdict().get("owner") and self.repo(match) is None:
                return error(404, "Not Found")
            return handler(self, seen, match)
        return error(404, "Not Found")

    def _register_defaults(self) -> None:
        for method, pattern, handler in (
            ("GET", rf"{_REPO}", _get_repo),
            ("GET", rf"{_REPO}/pulls", _list_pulls),
            ("POST", rf"{_REPO}/pulls", _create_pull),
            ("GET", rf"{_REPO}/pulls/(?P<number>\d+)", _get_pull),
            ("PATCH", rf"{_REPO}/pulls/(?P<number>\d+)", _update_pull),
            ("POST", rf"{_REPO}/issues/(?P<number>\d+)/labels", _add_labels),
            ("GET", rf"{_REPO}/issues", _list_issues),
            ("POST", rf"{_REPO}/issues", _create_issue),
            ("PATCH", rf"{_REPO}/issues/(?P<number>\d+)", _update_issue),
            ("POST", rf"{_REPO}/issues/(?P<number>\d+)/comments", _create_comment),
            ("GET", rf"{_REPO}/issues/(?P<number>\d+)/comments", _list_comments),
            ("POST", rf"{_REPO}/issues/comments/(?P<id>\d+)/reactions", _create_reaction),
            ("GET", rf"{_REPO}/collaborators/(?P<user>[^/]+)/permission", _permission),
            ("GET", rf"{_REPO}/installation", _repo_installation),
            ("POST", rf"{_REPO}/actions/workflows/(?P<workflow>[^/]+)/dispatches", _dispatch_wf),
            ("POST", rf"{_REPO}/dispatches", _repository_dispatch),
            ("POST", r"/app/installations/(?P<id>\d+)/access_tokens", _access_token),
            ("GET", r"/rate_limit", _rate_limit),
        ):
            self.routes.append((method, re.compile(pattern), handler))

    # ----- JSON shapes ---------------------------------------------------------------

    def repo_json(self, repo: RepoState) -> dict[str, Any]:
        api = f"https://api.github.com/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": user_json(repo.owner, 1),
            "html_url": f"https://github.com/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": api,
            "pulls_url": api + "/pulls{/number}",
            "clone_url": f"https://github.com/{repo.full_name}.git",
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "archived": False,
            "disabled": False,
            "permissions": {
                "admin": False,
                "maintain": False,
                "push": True,
                "triage": True,
                "pull": True,
            },
        }

    def pull_json(self, repo: RepoState, pull: dict[str, Any]) -> dict[str, Any]:
        number = pull["number"]
        html = f"https://github.com/{repo.full_name}/pull/{number}"
        api = f"https://api.github.com/repos/{repo.full_name}/pulls/{number}"
        repo_json = self.repo_json(repo)
        return {
            "url": api,
            "id": pull["id"],
            "node_id": f"PR_{pull['id']}",
            "html_url": html,
            "diff_url": html + ".diff",
            "patch_url": html + ".patch",
            "issue_url": f"https://api.github.com/repos/{repo.full_name}/issues/{number}",
            "number": number,
            "state": pull["state"],
            "locked": False,
            "title": pull["title"],
            "user": user_json(pull["user"], 41898282, "Bot"),
            "body": pull["body"],
            "labels": [{"name": n} for n in repo.labels.get(number, [])],
            "draft": pull["draft"],
            "created_at": pull.get("created_at", "2026-01-01T00:00:00Z"),
            "updated_at": pull.get("created_at", "2026-01-01T00:00:00Z"),
            "closed_at": pull.get("closed_at"),
            "merged_at": pull.get("merged_at"),
            "merge_commit_sha": None,
            "head": {
                "label": f"{repo.owner}:{pull['head']}",
                "ref": pull["head"],
                "sha": pull["head_sha"],
                "user": user_json(repo.owner, 1),
                "repo": repo_json,
            },
            "base": {
                "label": f"{repo.owner}:{pull['base']}",
                "ref": pull["base"],
                "sha": pull.get("base_sha", "0" * 40),
                "user": user_json(repo.owner, 1),
                "repo": repo_json,
            },
            "author_association": "NONE",
            "auto_merge": None,
            "active_lock_reason": None,
        }


def _branch_sha(remote: Path | None, branch: str) -> str | None:
    """The tip of ``branch`` in the bare remote, or ``None`` when it does not exist."""
    if remote is None:
        return "1" * 40
    done = subprocess.run(
        ["git", "-C", str(remote), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _need(gh: GitHubStandIn, match: re.Match[str]) -> RepoState:
    repo = gh.repo(match)
    assert repo is not None  # _route answered 404 already
    return repo


def _get_repo(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    return Reply.json(200, gh.repo_json(_need(gh, match)))


def _list_pulls(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    state = seen.param("state") or "open"
    head = seen.param("head")
    found = [
        gh.pull_json(repo, p)
        for p in repo.pulls
        if (state == "all" or p["state"] == state)
        and (head is None or head in (f"{repo.owner}:{p['head']}", p["head"]))
    ]
    if seen.param("direction") == "desc":
        found.reverse()
    return Reply.json(200, found)


def _get_pull(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    for pull in repo.pulls:
        if pull["number"] == int(match["number"]):
            return Reply.json(200, gh.pull_json(repo, pull))
    return error(404, "Not Found")


def _create_pull(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    data = seen.json() or {}
    head = str(data.get("head", "")).split(":")[-1]
    base = str(data.get("base", ""))
    if not data.get("title") or not head or not base:
        return validation_failed("title, head and base are required")
    sha = _branch_sha(repo.remote, head)
    if sha is None:
        return error(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}],
        )
    if any(p["head"] == head and p["state"] == "open" for p in repo.pulls):
        return validation_failed(f"A pull request already exists for {repo.owner}:{head}.")
    if data.get("draft") and not repo.drafts_supported:
        return error(
            422,
            "Draft pull requests are not supported in this repository.",
            f"{DOCS}/pulls/pulls#create-a-pull-request",
        )
    pull = {
        "number": repo.next_number,
        "id": gh.new_id(),
        "state": "open",
        "title": data["title"],
        "body": data.get("body"),
        "draft": bool(data.get("draft", False)),
        "head": head,
        "head_sha": sha,
        "base": base,
        "user": "selfimprove[bot]",
        "created_at": _now(),
    }
    repo.next_number += 1
    repo.pulls.append(pull)
    return Reply.json(201, gh.pull_json(repo, pull), {"Location": gh.pull_json(repo, pull)["url"]})


def _update_pull(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    data = seen.json() or {}
    for pull in repo.pulls:
        if pull["number"] == int(match["number"]):
            for key in ("title", "body", "state"):
                if key in data:
                    pull[key] = data[key]
            pull["head_sha"] = _branch_sha(repo.remote, pull["head"]) or pull["head_sha"]
            return Reply.json(200, gh.pull_json(repo, pull))
    return error(404, "Not Found")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def issue_json(repo: RepoState, issue: dict[str, Any]) -> dict[str, Any]:
    """An issue object, the fields GitHub documents for ``GET /repos/{o}/{r}/issues``."""
    number = issue["number"]
    api = f"https://api.github.com/repos/{repo.full_name}/issues/{number}"
    return {
        "id": issue["id"],
        "node_id": f"I_{issue['id']}",
        "url": api,
        "repository_url": f"https://api.github.com/repos/{repo.full_name}",
        "labels_url": api + "/labels{/name}",
        "comments_url": api + "/comments",
        "events_url": api + "/events",
        "html_url": f"https://github.com/{repo.full_name}/issues/{number}",
        "number": number,
        "state": issue["state"],
        "title": issue["title"],
        "body": issue["body"],
        "user": user_json(issue["user"], 41898282, "Bot"),
        "labels": [{"name": n} for n in repo.labels.get(number, [])],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "comments": 0,
        "created_at": issue["created_at"],
        "updated_at": issue["created_at"],
        "closed_at": None,
        "author_association": "NONE",
    }


def _list_issues(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    state = seen.param("state") or "open"
    wanted = [n for n in (seen.param("labels") or "").split(",") if n]
    found = [
        issue_json(repo, i)
        for i in repo.issues
        if (state == "all" or i["state"] == state)
        and all(n in repo.labels.get(i["number"], []) for n in wanted)
    ]
    return Reply.json(200, found)


def _create_issue(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    data = seen.json() or {}
    if not data.get("title"):
        return validation_failed("title is required", "Issue")
    issue = {
        "number": repo.next_number,
        "id": gh.new_id(),
        "state": "open",
        "title": data["title"],
        "body": data.get("body"),
        "user": "selfimprove[bot]",
        "created_at": _now(),
    }
    repo.next_number += 1
    repo.issues.append(issue)
    repo.labels[issue["number"]] = [str(n) for n in data.get("labels") or []]
    return Reply.json(201, issue_json(repo, issue))


def _update_issue(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    data = seen.json() or {}
    for issue in repo.issues:
        if issue["number"] == int(match["number"]):
            for key in ("title", "body", "state"):
                if key in data:
                    issue[key] = data[key]
            return Reply.json(200, issue_json(repo, issue))
    return error(404, "Not Found")


def _add_labels(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    data = seen.json()
    names = data.get("labels", []) if isinstance(data, dict) else data or []
    labels = repo.labels.setdefault(int(match["number"]), [])
    labels.extend(n for n in names if n not in labels)
    shaped = [
        {
            "id": i,
            "node_id": f"LA_{i}",
            "url": "",
            "name": n,
            "description": None,
            "color": "ededed",
            "default": False,
        }
        for i, n in enumerate(labels, 1)
    ]
    return Reply.json(200, shaped)


def _comment_json(repo: RepoState, comment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": comment["id"],
        "node_id": f"IC_{comment['id']}",
        "url": f"https://api.github.com/repos/{repo.full_name}/issues/comments/{comment['id']}",
        "html_url": f"https://github.com/{repo.full_name}/issues/{comment['issue']}"
        f"#issuecomment-{comment['id']}",
        "body": comment["body"],
        "user": user_json(comment["user"], 41898282, "Bot"),
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "issue_url": f"https://api.github.com/repos/{repo.full_name}/issues/{comment['issue']}",
        "author_association": "NONE",
    }


def _create_comment(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    body = (seen.json() or {}).get("body")
    if not body:
        return validation_failed("body is required", "IssueComment")
    comment = {
        "id": gh.new_id(),
        "issue": int(match["number"]),
        "body": body,
        "user": "selfimprove[bot]",
    }
    repo.comments.append(comment)
    return Reply.json(201, _comment_json(repo, comment))


def _list_comments(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    number = int(match["number"])
    return Reply.json(200, [_comment_json(repo, c) for c in repo.comments if c["issue"] == number])


REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}


def _create_reaction(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    content = (seen.json() or {}).get("content")
    if content not in REACTIONS:
        return validation_failed(f"content {content!r} is not a reaction", "Reaction")
    comment_id = int(match["id"])
    for reaction in repo.reactions:
        if reaction["comment_id"] == comment_id and reaction["content"] == content:
            return Reply.json(200, _reaction_json(reaction))  # already there: 200, not 201
    reaction = {"id": gh.new_id(), "comment_id": comment_id, "content": content}
    repo.reactions.append(reaction)
    return Reply.json(201, _reaction_json(reaction))


def _reaction_json(reaction: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": reaction["id"],
        "node_id": f"REA_{reaction['id']}",
        "user": user_json("selfimprove[bot]", 41898282, "Bot"),
        "content": reaction["content"],
        "created_at": "2026-01-01T00:00:00Z",
    }


def _permission(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    user = match["user"]
    role = repo.permissions.get(user)
    if role is None:
        if repo.private:
            return error(404, "Not Found")
        role = "read"  # anyone can read a public repository
    legacy = _LEGACY.get(role, "none")
    return Reply.json(
        200,
        {
            "permission": legacy,
            "role_name": role,
            "user": {
                **user_json(user, 5000),
                "permissions": {
                    "admin": role == "admin",
                    "maintain": role in ("admin", "maintain"),
                    "push": legacy in ("admin", "write"),
                    "triage": role != "read",
                    "pull": True,
                },
                "role_name": role,
            },
        },
    )


def _repo_installation(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    if repo.installation_id is None:
        return error(404, "Not Found")
    return Reply.json(
        200,
        {
            "id": repo.installation_id,
            "account": user_json(repo.owner, 1, "Organization"),
            "repository_selection": "selected",
            "access_tokens_url": f"https://api.github.com/app/installations/{repo.installation_id}"
            "/access_tokens",
            "repositories_url": "https://api.github.com/installation/repositories",
            "html_url": f"https://github.com/organizations/{repo.owner}/settings/installations/"
            f"{repo.installation_id}",
            "app_id": next(iter(gh.apps), 0),
            "target_id": 1,
            "target_type": "Organization",
            "permissions": {"contents": "write", "pull_requests": "write", "issues": "write"},
            "events": ["issue_comment"],
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "single_file_name": None,
            "app_slug": "selfimprove",
        },
    )


def _access_token(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    caller = gh._authenticate(seen) or ""
    if not caller.startswith("app:"):
        return error(401, "A JSON web token could not be decoded")
    installation = int(match["id"])
    if not any(r.installation_id == installation for r in gh.repos.values()):
        return error(404, "Not Found")
    token = f"ghs_installation_{gh.new_id()}"
    gh.tokens[token] = "selfimprove[bot]"
    return Reply.json(
        201,
        {
            "token": token,
            "expires_at": "2099-01-01T00:00:00Z",
            "permissions": {"contents": "write", "pull_requests": "write", "issues": "write"},
            "repository_selection": "selected",
        },
    )


def _dispatch_wf(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    data = seen.json() or {}
    if not data.get("ref"):
        return validation_failed("ref is required", "Workflow")
    repo.workflow_dispatches.append({"workflow": match["workflow"], **data})
    return Reply(204)


def _repository_dispatch(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    repo = _need(gh, match)
    data = seen.json() or {}
    if not data.get("event_type"):
        return validation_failed("event_type is required", "Repository")
    repo.repository_dispatches.append(data)
    return Reply(204)


def _rate_limit(gh: GitHubStandIn, seen: Seen, match: re.Match[str]) -> Reply:
    q = gh.quota
    core = {
        "limit": q.limit,
        "remaining": q.remaining,
        "reset": q.reset,
        "used": q.limit - q.remaining,
    }
    return Reply.json(200, {"resources": {"core": core}, "rate": core})


class RecordedSleep:
    """A ``sleep`` for clients under test: notes each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
