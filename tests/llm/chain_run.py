"""A chain of models built from a Request as ``bot.flow.run`` builds it, for the tests."""

from __future__ import annotations

import re
from pathlib import Path

from bot.core.candidate import Candidate, Target
from bot.core.evaluation import Evaluation
from bot.core.generator import Attempt, Generator
from bot.core.llm.settings import LLMSettings, parse_chain
from bot.core.method import MethodContext
from methods.llm_generator import LLMGenerator, generator_for
from tests.conftest import make_request
from tests.llm.project import COUNT, VOWEL, bare_baseline
from tests.llm.standin import StandIn

CALL_NOTE = re.compile(r"^asking |^\S+ answered the |: from the prompt cache \(prompt \w+\)$")


class Run:
    """One generator built from a Request, as ``bot.flow.run`` builds it, and what it said."""

    def __init__(self, repo: Path, home: Path, settings: LLMSettings) -> None:
        self.notes: list[str] = []
        self.request = make_request(repo, home=home, llm=settings)
        self.generator: Generator = generator_for(self.request, self.notes.append)
        self.ctx = MethodContext(
            self.request,
            bare_baseline(repo, COUNT, VOWEL),
            _no_evaluation,
            self.notes.append,
            self.generator,
        )

    @property
    def said(self) -> list[str]:
        """The notes besides the progress of each model call (asked, answered, cached)."""
        return [note for note in self.notes if not CALL_NOTE.search(note)]

    @property
    def chain(self) -> LLMGenerator:
        assert isinstance(self.generator, LLMGenerator)
        return self.generator

    def propose(
        self, target: Target, history: tuple[Attempt, ...] = (), count: int | None = None
    ) -> list[Candidate]:
        return self.generator.propose(
            self.ctx, target, method="test-driven", history=history, count=count
        )


def _no_evaluation(candidate: Candidate) -> Evaluation:
    raise AssertionError("a generator never evaluates")


def settings(chain: str, *servers: StandIn, **limits: object) -> LLMSettings:
    """The chain, each link at its stand-in, retried once without waiting."""
    base_urls = {}
    for spec, server in zip(parse_chain(chain), servers, strict=True):
        url = server.url if spec.provider == "anthropic" else server.openai_url
        base_urls[spec.provider] = url
    values: dict[str, object] = {"retries": 1, "retry_wait": 0.01, **limits}
    return LLMSettings(
        chain=parse_chain(chain),
        configured=True,
        base_urls=base_urls,
        **values,  # type: ignore[arg-type]
    )
