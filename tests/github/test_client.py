"""The real githubkit client against the REST stand-in: 304s, quota, waits, App auth."""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.core.errors import UserError
from bot.github.client import GitHubClient, GitHubUnavailable
from bot.github.credentials import AppCredentials, TokenCredentials, credentials_from_env
from bot.github.governor import Governor
from bot.github.transport import new_cache
from tests.github.rest_standin import GitHubStandIn, RecordedSleep

REPO = "octo/demo"
COMMENTS = "/repos/octo/demo/issues/7/comments"


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as server:
        server.add_repo(REPO)
        yield server


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


def client_for(gh: GitHubStandIn, sleep: RecordedSleep, **env: str) -> GitHubClient:
    environment = env or {"GITHUB_TOKEN": gh.token}
    return GitHubClient.from_env(REPO, environment, api_url=gh.url, sleep=sleep)


def test_client_imports_with_hishel_below_2() -> None:
    # githubkit 0.16.1 cannot import with hishel 2 (cannot import name 'CachePolicy').
    major = int(importlib.metadata.version("hishel").split(".")[0])
    assert major < 2
    assert importlib.metadata.version("githubkit").startswith("0.16.")


def test_second_read_is_a_304_that_costs_no_quota(gh: GitHubStandIn, sleep: RecordedSleep) -> None:
    client = client_for(gh, sleep)
    assert client.default_branch() == "main"
    left_after_first = gh.quota.remaining
    assert client.default_branch() == "main"
    first, second = gh.requests
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"].startswith('W/"')
    assert gh.statuses == [200, 304]
    assert gh.quota.remaining == left_after_first
    usage = client.usage()
    assert (usage.requests, usage.not_modified) == (2, 1)
    assert usage.remaining == {"core": left_after_first}


def test_a_changed_resource_is_read_again_in_full(gh: GitHubStandIn, sleep: RecordedSleep) -> None:
    client = client_for(gh, sleep)
    client.default_branch()
    gh.repos[REPO].default_branch = "trunk"
    assert client.default_branch() == "trunk"
    assert gh.statuses == [200, 200]


def test_cached_answers_are_never_shared_between_tokens(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    gh.tokens["ghp_other"] = "someone"
    shared = new_cache()
    first = GitHubClient(
        REPO, TokenCredentials(gh.token, "GITHUB_TOKEN"), api_url=gh.url, sleep=sleep, cache=shared
    )
    other = GitHubClient(
        REPO, TokenCredentials("ghp_other", "GH_TOKEN"), api_url=gh.url, sleep=sleep, cache=shared
    )
    first.default_branch()
    other.default_branch()
    first.default_branch()
    assert [("if-none-match" in r.headers) for r in gh.requests] == [False, False, True]


def test_secondary_limit_403_is_waited_out_and_retried_once(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    gh.fail_next(
        "POST",
        COMMENTS,
        403,
        {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
        headers={"Retry-After": "7"},
    )
    client = client_for(gh, sleep)
    url = client.create_comment(7, "hello")
    assert url.endswith(f"#issuecomment-{gh.repos[REPO].comments[0]['id']}")
    assert gh.count("POST", COMMENTS) == 2
    assert gh.statuses == [403, 201]
    assert 7.0 in sleep.waits
    assert len(gh.repos[REPO].comments) == 1


def test_a_second_secondary_limit_gives_up_on_github(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    gh.fail_next(
        "POST",
        COMMENTS,
        403,
        {"message": "secondary rate limit"},
        headers={"Retry-After": "2"},
        times=2,
    )
    with pytest.raises(GitHubUnavailable, match="still rate limited"):
        client_for(gh, sleep).create_comment(7, "hello")
    assert gh.count("POST", COMMENTS) == 2


def test_a_wait_longer_than_the_cap_falls_back_at_once(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    gh.fail_next("POST", COMMENTS, 429, {"message": "slow down"}, headers={"Retry-After": "900"})
    with pytest.raises(GitHubUnavailable, match="longer than the 60 s cap") as caught:
        client_for(gh, sleep).create_comment(7, "hello")
    assert caught.value.reason == str(caught.value)
    assert gh.count("POST", COMMENTS) == 1
    assert all(wait < 60 for wait in sleep.waits)


def test_an_empty_primary_quota_with_a_distant_reset_falls_back(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    gh.quota.remaining = 0
    gh.quota.reset = int(time.time()) + 1800
    with pytest.raises(GitHubUnavailable, match="core quota resets in"):
        client_for(gh, sleep).default_branch()
    assert gh.statuses == [403]


def test_a_permission_403_is_not_waited_on(gh: GitHubStandIn, sleep: RecordedSleep) -> None:
    gh.fail_next("POST", COMMENTS, 403, {"message": "Resource not accessible by integration"})
    with pytest.raises(GitHubUnavailable, match="Resource not accessible by integration"):
        client_for(gh, sleep).create_comment(7, "hello")
    assert gh.count("POST", COMMENTS) == 1
    assert sleep.waits == []


def test_server_errors_are_retried_with_backoff_then_fall_back(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    gh.fail_next("GET", "/repos/octo/demo", 502, {"message": "Server Error"}, times=10)
    with pytest.raises(GitHubUnavailable, match="502"):
        client_for(gh, sleep).default_branch()
    assert gh.statuses == [502, 502, 502]
    assert sleep.waits == [1.0, 2.0]


def test_writes_are_spaced_a_second_apart(gh: GitHubStandIn, sleep: RecordedSleep) -> None:
    frozen = Governor(lambda: 1_000.0)  # a clock that never moves: the full second is owed
    client = GitHubClient.from_env(
        REPO, {"GITHUB_TOKEN": gh.token}, api_url=gh.url, governor=frozen, sleep=sleep
    )
    client.create_comment(7, "one")
    client.default_branch()  # reads are never spaced
    client.add_reaction(5, "eyes")
    assert sleep.waits == [1.0]


def test_bad_credentials_mean_github_is_unavailable(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    with pytest.raises(GitHubUnavailable, match="401"):
        client_for(gh, sleep, GITHUB_TOKEN="ghp_wrong").default_branch()


def test_an_unreachable_api_is_unavailable(sleep: RecordedSleep) -> None:
    with GitHubStandIn() as server:
        url = server.url  # closed once the block ends
    client = GitHubClient.from_env(REPO, {"GITHUB_TOKEN": "t"}, api_url=url, sleep=sleep)
    with pytest.raises(GitHubUnavailable, match="unreachable"):
        client.default_branch()


def test_no_credentials_is_unavailable() -> None:
    with pytest.raises(GitHubUnavailable, match="no GitHub credentials"):
        GitHubClient.from_env(REPO, {}, api_url="http://127.0.0.1:9")


def test_credentials_precedence_and_mistakes() -> None:
    env = {"GITHUB_TOKEN": "a", "GH_TOKEN": "b"}
    assert credentials_from_env(env) == TokenCredentials("a", "GITHUB_TOKEN")
    assert credentials_from_env({"GH_TOKEN": "b"}) == TokenCredentials("b", "GH_TOKEN")
    explicit = {**env, "SELFIMPROVE_GITHUB_TOKEN": "c", "SELFIMPROVE_APP_ID": "1"}
    assert credentials_from_env(explicit) == TokenCredentials("c", "SELFIMPROVE_GITHUB_TOKEN")
    app = credentials_from_env(
        {**env, "SELFIMPROVE_APP_ID": "12", "SELFIMPROVE_APP_PRIVATE_KEY": "-----BEGIN X-----"}
    )
    assert app == AppCredentials("12", "-----BEGIN X-----", None)
    assert "BEGIN" not in repr(app) and "s3cr3t" not in repr(TokenCredentials("s3cr3t", "X"))
    with pytest.raises(UserError, match="SELFIMPROVE_APP_PRIVATE_KEY too"):
        credentials_from_env({"SELFIMPROVE_APP_ID": "12"})
    with pytest.raises(UserError, match="neither a PEM key nor a file"):
        credentials_from_env({"SELFIMPROVE_APP_ID": "12", "SELFIMPROVE_APP_PRIVATE_KEY": "nope"})


def test_permission_reads_the_role_not_the_legacy_field(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    repo = gh.repos[REPO]
    repo.permissions.update({"ann": "maintain", "tom": "triage", "ada": "admin"})
    client = client_for(gh, sleep)
    assert [client.permission(u) for u in ("ann", "tom", "ada", "eve")] == [
        "maintain",
        "triage",
        "admin",
        "read",
    ]
    repo.private = True
    assert client.permission("stranger") == "none"


def _app_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_app_credentials_become_an_installation_token(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    private, public = _app_key()
    gh.add_app(4242, public)
    gh.repos[REPO].installation_id = 77
    gh.repos[REPO].permissions["ann"] = "write"
    env = {"SELFIMPROVE_APP_ID": "4242", "SELFIMPROVE_APP_PRIVATE_KEY": private}
    client = client_for(gh, sleep, **env)
    assert client.permission("ann") == "write"
    assert client.permission("ann") == "write"
    paths = [(r.method, r.path) for r in gh.requests]
    assert paths == [
        ("GET", "/repos/octo/demo/installation"),
        ("POST", "/app/installations/77/access_tokens"),
        ("GET", "/repos/octo/demo/collaborators/ann/permission"),
        ("GET", "/repos/octo/demo/collaborators/ann/permission"),
    ]
    jwt_auth = gh.requests[0].headers["authorization"]
    assert jwt_auth.startswith("Bearer ey")
    token = client.token()
    assert token.startswith("ghs_installation_")
    assert gh.requests[2].headers["authorization"] == f"token {token}"
    assert gh.statuses[-1] == 304
    assert client.usage().requests == 4


def test_app_with_a_known_installation_skips_the_lookup(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    private, public = _app_key()
    gh.add_app(9, public)
    gh.repos[REPO].installation_id = 5
    env = {
        "SELFIMPROVE_APP_ID": "9",
        "SELFIMPROVE_APP_PRIVATE_KEY": private,
        "SELFIMPROVE_APP_INSTALLATION_ID": "5",
    }
    client_for(gh, sleep, **env).default_branch()
    assert [r.path for r in gh.requests] == [
        "/app/installations/5/access_tokens",
        "/repos/octo/demo",
    ]


def test_an_app_the_server_does_not_know_is_unavailable(
    gh: GitHubStandIn, sleep: RecordedSleep
) -> None:
    private, _ = _app_key()
    env = {
        "SELFIMPROVE_APP_ID": "9",
        "SELFIMPROVE_APP_PRIVATE_KEY": private,
        "SELFIMPROVE_APP_INSTALLATION_ID": "5",
    }
    with pytest.raises(GitHubUnavailable, match="could not get a token"):
        client_for(gh, sleep, **env).default_branch()


def test_a_governor_passed_in_sees_every_response(gh: GitHubStandIn, sleep: RecordedSleep) -> None:
    governor = Governor(time.time, reserve=10)
    client = GitHubClient.from_env(
        REPO, {"GH_TOKEN": gh.token}, api_url=gh.url, governor=governor, sleep=sleep
    )
    client.default_branch()
    gh.quota.remaining = 12
    client.find_open_pull("selfimprove/x")
    assert governor.remaining() == 11
    assert governor.should_fall_back(2)


def test_no_credential_the_client_reads_reaches_a_subprocess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.core.sandbox import scrubbed_env

    names = ("SELFIMPROVE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "SELFIMPROVE_APP_PRIVATE_KEY")
    for name in names:
        monkeypatch.setenv(name, "secret-value")
    env = scrubbed_env()
    assert not [name for name in names if name in env]
    assert "secret-value" not in env.values()
