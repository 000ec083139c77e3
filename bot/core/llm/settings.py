"""What a run may ask of language models: the provider chain, its limits, its prices.

Built once at the edge (config, flags, env) and carried in the Request. It holds no API key:
keys are read from the environment only when a client is made (:mod:`bot.core.llm.chain`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.errors import UserError

PROVIDERS = ("openai", "anthropic", "openai-compatible")
CODEMODS = "codemods"


@dataclass(frozen=True)
class ModelSpec:
    """One link of the chain: a provider and the model to ask there."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens, read and written."""

    input: float
    output: float


@dataclass(frozen=True)
class LLMSettings:
    """The chain (models tried in order, codemods always last) and the run's limits.

    ``max_calls``/``max_tokens``/``max_cost`` bound the whole run (``None``: no bound);
    ``retries`` is how many times one request is re-sent after a 429, a 5xx or a timeout;
    a timeout of an ``openai-compatible`` endpoint only with ``retry_timeouts`` (a local server
    serves one request at a time, so a re-sent request waits behind the abandoned one).
    ``temperature`` is sent with every request and is part of the prompt cache's key.
    """

    chain: tuple[ModelSpec, ...] = ()
    configured: bool = False
    max_calls: int | None = None
    max_tokens: int | None = None
    max_cost: float | None = None
    max_reply_tokens: int = 4096
    timeout: float = 120.0
    retries: int = 3
    retry_timeouts: bool = False
    temperature: float = 0.0
    retry_wait: float = 1.0
    max_retry_wait: float = 60.0
    base_urls: dict[str, str] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)


def parse_chain(text: str) -> tuple[ModelSpec, ...]:
    """``anthropic:<model>,openai:<model>,codemods`` → the model links (codemods is implied).

    A model name may itself contain ``:`` (``openai-compatible:llama3:8b``).
    """
    links: list[ModelSpec] = []
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise UserError("the language model chain is empty; use e.g. 'openai:<model>,codemods'")
    for index, part in enumerate(parts):
        if part == CODEMODS:
            if index != len(parts) - 1:
                raise UserError("'codemods' must be the last link of the language model chain")
            continue
        provider, colon, model = part.partition(":")
        provider, model = provider.strip(), model.strip()
        if provider not in PROVIDERS:
            known = ", ".join((*PROVIDERS, CODEMODS))
            raise UserError(f"unknown language model provider {provider!r}; known: {known}")
        if not colon or not model:
            raise UserError(f"{part!r} names no model; write it as {provider}:<model>")
        links.append(ModelSpec(provider, model))
    return tuple(links)
