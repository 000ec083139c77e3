"""Turn the configured chain into live clients, reading API keys from the environment.

This is the only place keys are read. A link without its key (or, for an OpenAI-compatible
endpoint, without a base URL) is left out and the run is told once; no link left means the
codemods alone, which is not an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.core import secrets
from bot.core.llm.completion import ChatClient
from bot.core.llm.retry import RetryPolicy
from bot.core.llm.settings import LLMSettings, ModelSpec

KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
COMPATIBLE_KEY_VARIABLE = "OPENAI_COMPATIBLE_API_KEY"  # optional: most local servers need none
BASE_URL_VARIABLES = {
    "openai": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
    "openai-compatible": "OPENAI_COMPATIBLE_BASE_URL",  # its own: a chain may use both
}
_NO_KEY_NEEDED = "not-needed"  # local servers ignore the key, but the SDK insists on one


@dataclass(frozen=True)
class Link:
    """A model the run can ask."""

    spec: ModelSpec
    client: ChatClient


def base_url(provider: str, settings: LLMSettings, environ: Mapping[str, str]) -> str | None:
    """The endpoint for ``provider``: env first, then config; ``None`` for the SDK default."""
    return environ.get(BASE_URL_VARIABLES[provider]) or settings.base_urls.get(provider) or None


def connect(
    settings: LLMSettings, environ: Mapping[str, str] | None = None
) -> tuple[list[Link], list[str]]:
    """The usable links, in order, and what to tell the user about the rest."""
    env = secrets.environ() if environ is None else environ
    # The SDKs take seconds to import; only a run that has a model to ask pays for them.
    from bot.core.llm.anthropic_client import AnthropicChat
    from bot.core.llm.openai_client import OpenAIChat

    policy = RetryPolicy(settings.retries, settings.retry_wait, settings.max_retry_wait)
    # A local server finishes an abandoned request before the next: re-sending piles up.
    local = replace(policy, timeouts=settings.retry_timeouts)
    links: list[Link] = []
    missing: list[str] = []
    for spec in settings.chain:
        url = base_url(spec.provider, settings, env)
        if spec.provider == "anthropic":
            key = env.get(KEY_VARIABLES["anthropic"])
            if not key:
                missing.append(f"{spec} (set ANTHROPIC_API_KEY)")
                continue
            client: ChatClient = AnthropicChat(
                spec.model, api_key=key, base_url=url, timeout=settings.timeout, policy=policy
            )
        elif spec.provider == "openai":
            key = env.get(KEY_VARIABLES["openai"])
            if not key:
                missing.append(f"{spec} (set OPENAI_API_KEY)")
                continue
            client = OpenAIChat(
                spec.model, api_key=key, base_url=url, timeout=settings.timeout, policy=policy
            )
        else:
            if not url:
                missing.append(
                    f"{spec} (set OPENAI_COMPATIBLE_BASE_URL or openai-compatible-base-url)"
                )
                continue
            # Never OPENAI_API_KEY: this endpoint is not OpenAI and must not receive its key.
            key = env.get(COMPATIBLE_KEY_VARIABLE) or _NO_KEY_NEEDED
            client = OpenAIChat(
                spec.model,
                api_key=key,
                base_url=url,
                timeout=settings.timeout,
                policy=local,
                compatible=True,
            )
        links.append(Link(spec, client))
    return links, _notes(settings, links, missing, env)


def _notes(
    settings: LLMSettings, links: list[Link], missing: list[str], env: Mapping[str, str]
) -> list[str]:
    if not settings.configured:
        present = [name for name in KEY_VARIABLES.values() if env.get(name)]
        if present:
            return [
                f"{' and '.join(present)} set but no model chosen (e.g. --llm openai:<model>): "
                "codemods only"
            ]
        return []
    if not links and missing:
        return [f"no language model can be used, codemods only: {'; '.join(missing)}"]
    return [f"skipping {m}" for m in missing]
