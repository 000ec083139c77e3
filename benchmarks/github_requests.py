"""REST requests per draft PR, and the share of repeat reads GitHub answers with ``304``.

Drives the real client (githubkit over the governed transport) and the real delivery
flow against the REST stand-in of the tests on 127.0.0.1, with a local bare git remote;
nothing leaves the machine. Goals (issue 4): at most 8 requests per draft PR opened,
at least 70% of repeat reads answered ``304``. With the noise policy and its dashboard
(issue 12): at most 8 requests per PR opened, at most 3 for a run with nothing new.

    python benchmarks/github_requests.py

The 304 share is measured on one long-lived client, as ``selfimprove serve`` keeps one per
installation: comment commands from a few people (permission reads repeat) and re-runs of
the same delivery (default branch and pull look-ups repeat). Writes are spaced by the
governor as in production, but the benchmark notes the waits instead of sleeping them.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from bot.core.request import NoiseControl  # noqa: E402
from bot.github.client import GitHubClient  # noqa: E402
from bot.github.comments import handle_comment  # noqa: E402
from bot.github.controlled import control  # noqa: E402
from bot.github.delivery import deliver_pull_request  # noqa: E402
from bot.github.governor import Governor  # noqa: E402
from bot.report.results import RunResult  # noqa: E402
from tests.github.accepted import make_project, membership, run_result, summing  # noqa: E402
from tests.github.rest_standin import GitHubStandIn, RecordedSleep  # noqa: E402

REPO = "octo/demo"
GOAL_REQUESTS = 8
GOAL_304_SHARE = 0.70
GOAL_QUIET = 3


def _client(gh: GitHubStandIn, env: dict[str, str] | None = None) -> GitHubClient:
    return GitHubClient.from_env(
        REPO,
        env or {"GITHUB_TOKEN": gh.token},
        api_url=gh.url,
        governor=Governor(time.time),
        sleep=RecordedSleep(),
    )


def _requests_for(gh: GitHubStandIn, deliver: Callable[[], object]) -> int:
    before = len(gh.requests)
    deliver()
    return len(gh.requests) - before


def per_pull_request(workdir: Path) -> list[tuple[str, int]]:
    """REST requests of one delivery, in each situation a run meets."""
    rows: list[tuple[str, int]] = []
    with GitHubStandIn() as gh:
        project = make_project(workdir / "token")
        gh.add_repo(REPO, remote=project.remote)
        request = project.request
        first = run_result(request, membership(request))
        rows.append(
            (
                "fresh draft PR (token)",
                _requests_for(gh, lambda: deliver_pull_request(request, first, _client(gh))),
            )
        )
        second = run_result(request, membership(request), summing(request), run_id="run-2")
        rows.append(
            (
                "re-run, new change: update",
                _requests_for(gh, lambda: deliver_pull_request(request, second, _client(gh))),
            )
        )
        rows.append(
            (
                "re-run, nothing new",
                _requests_for(gh, lambda: deliver_pull_request(request, second, _client(gh))),
            )
        )
    with GitHubStandIn() as gh:
        project = make_project(workdir / "nodraft")
        gh.add_repo(REPO, remote=project.remote, drafts_supported=False)
        request = project.request
        result = run_result(request, membership(request))
        rows.append(
            (
                "drafts unsupported: PR + label",
                _requests_for(gh, lambda: deliver_pull_request(request, result, _client(gh))),
            )
        )
    with GitHubStandIn() as gh:
        project = make_project(workdir / "app")
        gh.add_repo(REPO, remote=project.remote, installation_id=77)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        gh.add_app(
            4242,
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode(),
        )
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        env = {"SELFIMPROVE_APP_ID": "4242", "SELFIMPROVE_APP_PRIVATE_KEY": private}
        request = project.request
        result = run_result(request, membership(request))
        rows.append(
            (
                "fresh draft PR (App, token exchange)",
                _requests_for(gh, lambda: deliver_pull_request(request, result, _client(gh, env))),
            )
        )
    return rows


def with_dashboard(workdir: Path) -> list[tuple[str, int, int]]:
    """(situation, REST requests, PRs opened) of whole runs under the noise policy."""
    rows: list[tuple[str, int, int]] = []
    with GitHubStandIn() as gh:
        project = make_project(workdir / "dashboard")
        repo = gh.add_repo(REPO, remote=project.remote)
        base = project.request

        def step(name: str, settings: NoiseControl, *changes: str, run_id: str) -> None:
            request = replace(base, noise=settings)
            made = {"membership": membership, "summing": summing}
            result = run_result(request, *(made[c](request) for c in changes), run_id=run_id)
            if not changes:
                result.delivered.clear()
            before = len(repo.pulls)
            count = _requests_for(gh, lambda: control(request, result, _client(gh)))
            rows.append((name, count, len(repo.pulls) - before))

        approval = NoiseControl(group="target", pr_creation="approval")
        step("1 change: PR + new dashboard", NoiseControl(), "membership", run_id="r1")
        step("re-run, nothing new", NoiseControl(), "membership", run_id="r2")
        step("run without changes", NoiseControl(), run_id="r3")
        step("1 change awaiting approval", approval, "summing", run_id="r4")
        issue = repo.issues[0]
        issue["body"] = issue["body"].replace("- [ ] ", "- [x] ", 1)
        step("box ticked: that PR opens", approval, run_id="r5")
        repo.pulls.clear()  # a fresh repository for the grouped run
        repo.issues.clear()
        step(
            "2 changes, group=target: 2 PRs",
            NoiseControl(group="target"),
            "membership",
            "summing",
            run_id="r6",
        )
    return rows


def repeat_reads(workdir: Path) -> tuple[int, int, int]:
    """(GETs, repeat GETs, repeats answered 304) for one long-lived client."""
    with GitHubStandIn() as gh:
        project = make_project(workdir / "served")
        repo = gh.add_repo(REPO, remote=project.remote)
        repo.permissions.update({"ann": "write", "bob": "maintain", "cy": "read"})
        client = _client(gh)
        request = project.request
        results: list[RunResult] = [
            run_result(request, membership(request), run_id=f"run-{i}") for i in range(1, 4)
        ]
        for round_ in range(4):
            for user in ("ann", "bob", "cy"):
                handle_comment(_payload(user, 100 + round_), client)
        for result in results:
            deliver_pull_request(request, result, client)
            deliver_pull_request(request, result, client)  # the same order twice: no news
        seen: set[str] = set()
        gets = repeats = answered_304 = 0
        for request_seen, status in zip(gh.requests, gh.statuses, strict=True):
            if request_seen.method != "GET":
                continue
            gets += 1
            key = (
                request_seen.path
                + "?"
                + "&".join(f"{k}={v}" for k, v in sorted(request_seen.query.items()))
            )
            if key in seen:
                repeats += 1
                answered_304 += status == 304
            seen.add(key)
        return gets, repeats, answered_304


def _payload(user: str, comment_id: int) -> dict[str, object]:
    return {
        "action": "created",
        "issue": {"number": 7},
        "comment": {"id": comment_id, "body": "/improve", "user": {"login": user, "type": "User"}},
        "repository": {"full_name": REPO},
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="selfimprove-bench-") as folder:
        workdir = Path(folder)
        rows = per_pull_request(workdir)
        gets, repeats, answered = repeat_reads(workdir)
        policed = with_dashboard(workdir)
    width = max(len(name) for name, _ in rows)
    print(f"{'delivery':<{width}}  REST requests  (goal <= {GOAL_REQUESTS})")
    for name, count in rows:
        mark = "ok" if count <= GOAL_REQUESTS else "OVER"
        print(f"{name:<{width}}  {count:>13}  {mark}")
    share = answered / repeats if repeats else 0.0
    mark = "ok" if share >= GOAL_304_SHARE else "UNDER"
    print()
    print(f"long-lived client: {gets} GETs, {repeats} repeat reads, {answered} answered 304")
    print(f"share of repeat reads answered 304: {share:.0%}  (goal >= {GOAL_304_SHARE:.0%}) {mark}")
    print()
    width = max(len(name) for name, _, _ in policed)
    print(
        f"{'run with the dashboard':<{width}}  requests  PRs  per PR  (goal <= {GOAL_REQUESTS}; "
        f"nothing new <= {GOAL_QUIET})"
    )
    policed_ok = True
    for name, count, opened in policed:
        per = count / opened if opened else float(count)
        ok = per <= GOAL_REQUESTS if opened else count <= GOAL_QUIET
        policed_ok &= ok
        per_text = f"{per:.1f}" if opened else "-"
        print(f"{name:<{width}}  {count:>8}  {opened:>3}  {per_text:>6}  {'ok' if ok else 'OVER'}")
    worst = max(count for _, count in rows)
    return 0 if worst <= GOAL_REQUESTS and share >= GOAL_304_SHARE and policed_ok else 1


if __name__ == "__main__":
    sys.exit(main())
