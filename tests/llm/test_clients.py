"""The two clients on the real SDKs against a stand-in server: retries, waits, failures."""

from __future__ import annotations

import time

import pytest

from bot.core.llm.anthropic_client import AnthropicChat
from bot.core.llm.completion import ChatClient, ModelUnavailable
from bot.core.llm.openai_client import OpenAIChat
from bot.core.llm.retry import RetryPolicy, retry_after_seconds
from tests.llm.standin import Reply, StandIn

KEY = "sk-test-secret-0123456789"
FAST = RetryPolicy(retries=2, initial_wait=0.01, max_wait=5.0)


def client(
    kind: str, server: StandIn, policy: RetryPolicy = FAST, timeout: float = 30
) -> ChatClient:
    if kind == "openai":
        return OpenAIChat(
            "gpt-test", api_key=KEY, base_url=server.openai_url, timeout=timeout, policy=policy
        )
    return AnthropicChat(
        "claude-test", api_key=KEY, base_url=server.url, timeout=timeout, policy=policy
    )


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_reply_is_read_with_its_token_counts(kind: str) -> None:
    with StandIn(Reply("hello", input_tokens=7, output_tokens=3)) as server:
        done = client(kind, server).complete("sys", "user text", max_tokens=123)
    assert (done.text, done.input_tokens, done.output_tokens) == ("hello", 7, 3)
    [request] = server.requests
    if kind == "openai":
        assert request.path == "/v1/chat/completions"
        assert request.body["messages"] == [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "user text"},
        ]
        assert request.body["max_completion_tokens"] == 123
        assert request.headers["authorization"] == f"Bearer {KEY}"
    else:
        assert request.path == "/v1/messages"
        assert request.body["system"] == "sys"
        assert request.body["messages"] == [{"role": "user", "content": "user text"}]
        assert request.body["max_tokens"] == 123
        sent = {request.headers.get("x-api-key"), request.headers.get("authorization")}
        assert KEY in sent or f"Bearer {KEY}" in sent


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_429_then_success_waits_as_asked(kind: str) -> None:
    script = (Reply(status=429, headers={"retry-after": "1"}), Reply("ok"))
    with StandIn(*script) as server:
        began = time.monotonic()
        done = client(kind, server).complete("s", "u", max_tokens=10)
        waited = time.monotonic() - began
    assert done.text == "ok"
    assert len(server.requests) == 2  # one retry, by us: the SDK's own retries are off
    assert waited >= 0.9  # the server's retry-after was honoured


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_5xx_until_retries_run_out(kind: str) -> None:
    with (
        StandIn(Reply(status=500, headers={"retry-after": "0"})) as server,
        pytest.raises(ModelUnavailable, match="HTTP 500"),
    ):
        client(kind, server).complete("s", "u", max_tokens=10)
    assert len(server.requests) == FAST.retries + 1


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_refusal_is_not_retried_and_never_shows_the_key(kind: str) -> None:
    with (
        StandIn(Reply(status=401)) as server,
        pytest.raises(ModelUnavailable, match="HTTP 401") as raised,
    ):
        client(kind, server).complete("s", "u", max_tokens=10)
    assert len(server.requests) == 1
    assert KEY not in str(raised.value)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_timeout_is_retried(kind: str) -> None:
    script = (Reply("late", delay=3.0), Reply("ok"))
    with StandIn(*script) as server:
        done = client(kind, server, timeout=1.0).complete("s", "u", max_tokens=10)
    assert done.text == "ok"
    assert len(server.requests) == 2


def test_an_unreachable_endpoint_is_unavailable() -> None:
    with StandIn() as server:
        url = server.openai_url
    chat = OpenAIChat("m", api_key=KEY, base_url=url, timeout=5, policy=RetryPolicy(1, 0.01, 0.05))
    with pytest.raises(ModelUnavailable, match="cannot connect"):
        chat.complete("s", "u", max_tokens=10)


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    http_date = {"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}
    assert retry_after_seconds(http_date, now=1445412480) == 10.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
