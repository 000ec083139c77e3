"""Choosing models: the chain spec, ``[tool.selfimprove.llm]``, ``--llm``, env, and keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Flags, build_request
from bot.core.errors import UserError
from bot.core.llm.chain import connect
from bot.core.llm.settings import LLMSettings, ModelSpec, Price, parse_chain
from tests.conftest import run_cli
from tests.llm.standin import Reply, StandIn

TESTS = {"tests/test_x.py": "def test_x() -> None:\n    assert True\n"}


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_COMPATIBLE_BASE_URL",
        "ANTHROPIC_BASE_URL",
        "SELFIMPROVE_LLM",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_chain_lists_models_in_order_and_codemods_is_implied() -> None:
    assert parse_chain("anthropic:claude-x, openai:gpt-y,codemods") == (
        ModelSpec("anthropic", "claude-x"),
        ModelSpec("openai", "gpt-y"),
    )
    assert parse_chain("openai-compatible:llama3:8b") == (
        ModelSpec("openai-compatible", "llama3:8b"),
    )
    assert parse_chain("codemods") == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gemini:pro", "unknown language model provider 'gemini'"),
        ("openai", "'openai' names no model; write it as openai:<model>"),
        ("openai:", "names no model"),
        ("codemods,openai:gpt", "'codemods' must be the last link"),
        (" ", "the language model chain is empty"),
    ],
)
def test_a_bad_chain_is_one_sentence(spec: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_chain(spec)


def project(make_repo: Callable[..., Path], config: str) -> Path:
    return make_repo({"pyproject.toml": config, **TESTS})


def test_the_llm_table_fills_the_settings(make_repo: Callable[..., Path]) -> None:
    root = project(
        make_repo,
        """
[tool.selfimprove.llm]
chain = "anthropic:claude-x,openai:gpt-y,codemods"
max-calls = 5
max-tokens = 20000
max-cost = 0.5
timeout = 30
retries = 0
openai-base-url = "http://127.0.0.1:8080/v1"
prices = { "gpt-y" = { input = 0.15, output = 0.6 } }
""",
    )
    llm = build_request(Flags(path=str(root))).llm
    assert llm.chain == (ModelSpec("anthropic", "claude-x"), ModelSpec("openai", "gpt-y"))
    assert llm.configured
    assert (llm.max_calls, llm.max_tokens, llm.max_cost, llm.timeout, llm.retries) == (
        5,
        20000,
        0.5,
        30.0,
        0,
    )
    assert llm.base_urls == {"openai": "http://127.0.0.1:8080/v1"}
    assert llm.prices == {"gpt-y": Price(0.15, 0.6)}


def test_the_flag_wins_over_env_over_config(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(make_repo, '[tool.selfimprove]\nllm = "openai:from-config"\n')
    assert build_request(Flags(path=str(root))).llm.chain == (ModelSpec("openai", "from-config"),)
    monkeypatch.setenv("SELFIMPROVE_LLM", "anthropic:from-env")
    assert build_request(Flags(path=str(root))).llm.chain == (ModelSpec("anthropic", "from-env"),)
    flags = Flags(path=str(root), llm="openai:from-flag,codemods")
    assert build_request(flags).llm.chain == (ModelSpec("openai", "from-flag"),)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[tool.selfimprove.llm]\nbudget = 3\n", "unknown key 'budget'"),
        ("[tool.selfimprove.llm]\nmax-calls = 1.5\n", "'max-calls' .* must be a whole number"),
        ("[tool.selfimprove.llm]\nmax-cost = -1\n", "'max-cost' .* must be positive"),
        ("[tool.selfimprove.llm]\nopenai-base-url = 'ftp://x'\n", "must be an http"),
        ("[tool.selfimprove.llm.prices]\ngpt = 3\n", "the price of 'gpt'"),
        ("[tool.selfimprove]\nllm = 3\n", "'llm' in .* must be a chain string or a table"),
        ("[tool.selfimprove]\nllm = 'mistral:large'\n", "unknown language model provider"),
        ("[tool.selfimprove.llm]\ntemperature = 3\n", "'temperature' .* from 0 to 2"),
        ("[tool.selfimprove.llm]\nretry-timeouts = 'yes'\n", "must be true or false"),
    ],
)
def test_config_mistakes_are_user_errors(
    make_repo: Callable[..., Path], config: str, message: str
) -> None:
    root = project(make_repo, config)
    with pytest.raises(UserError, match=message):
        build_request(Flags(path=str(root)))


def test_a_bad_llm_flag_exits_2_with_one_sentence(make_repo: Callable[..., Path]) -> None:
    root = project(make_repo, "")
    done = run_cli("run", "--dry-run", str(root), "--llm", "gemini:pro", cwd=root, timeout=120)
    assert done.returncode == 2
    assert "unknown language model provider 'gemini'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_key_without_a_chosen_model_is_said() -> None:
    links, notes = connect(LLMSettings(), {"OPENAI_API_KEY": "sk-x"})
    assert links == []
    assert notes == [
        "OPENAI_API_KEY set but no model chosen (e.g. --llm openai:<model>): codemods only"
    ]
    assert connect(LLMSettings(), {}) == ([], [])


def test_a_missing_key_skips_only_its_link() -> None:
    chain = parse_chain("anthropic:claude-x,openai:gpt-y")
    settings = LLMSettings(chain=chain, configured=True)
    links, notes = connect(settings, {"OPENAI_API_KEY": "sk-x"})
    assert [link.spec for link in links] == [ModelSpec("openai", "gpt-y")]
    assert notes == ["skipping anthropic:claude-x (set ANTHROPIC_API_KEY)"]


def test_an_openai_compatible_endpoint_has_its_own_url_and_gets_no_key() -> None:
    """A local model and OpenAI in one chain: two endpoints, OpenAI's key only to OpenAI."""
    chain = parse_chain("openai-compatible:llama3:8b,openai:gpt-y")
    settings = LLMSettings(chain=chain, configured=True)
    key = "sk-real-openai-key"
    with StandIn(Reply("local")) as local, StandIn(Reply("remote")) as remote:
        only_openai = {"OPENAI_BASE_URL": remote.openai_url, "OPENAI_API_KEY": key}
        links, notes = connect(settings, only_openai)
        assert [str(link.spec) for link in links] == ["openai:gpt-y"]
        assert notes == [
            "skipping openai-compatible:llama3:8b "
            "(set OPENAI_COMPATIBLE_BASE_URL or openai-compatible-base-url)"
        ]
        both = {**only_openai, "OPENAI_COMPATIBLE_BASE_URL": local.openai_url}
        links, notes = connect(settings, both)
        said = [link.client.complete("s", "u", max_tokens=64).text for link in links]
    assert said == ["local", "remote"] and notes == []
    [asked_locally], [asked_remotely] = local.requests, remote.requests
    assert asked_locally.body["model"] == "llama3:8b"
    assert asked_locally.body["max_tokens"] == 64  # the classic field local servers understand
    assert key not in asked_locally.headers["authorization"]  # not OpenAI: not its key
    assert asked_remotely.body["max_completion_tokens"] == 64
    assert asked_remotely.headers["authorization"] == f"Bearer {key}"
    for asked in (asked_locally, asked_remotely):
        assert asked.body["temperature"] == 0 and asked.body["stream"] is True


def test_the_compatible_url_temperature_and_timeout_retries_come_from_the_config(
    make_repo: Callable[..., Path],
) -> None:
    root = project(
        make_repo,
        """
[tool.selfimprove.llm]
chain = "openai-compatible:local"
openai-compatible-base-url = "http://127.0.0.1:8081/v1"
temperature = 0.3
retry-timeouts = true
""",
    )
    llm = build_request(Flags(path=str(root))).llm
    assert llm.base_urls == {"openai-compatible": "http://127.0.0.1:8081/v1"}
    assert (llm.temperature, llm.retry_timeouts) == (0.3, True)
    assert (LLMSettings().temperature, LLMSettings().retry_timeouts) == (0.0, False)
