"""Auto: choose the method per target by Thompson sampling over the ledger's past outcomes.

An *attempt* is one method on one target in one run (the ledger in the bot's home keeps
every candidate decision); it succeeded when any of its candidates was accepted. Each
method's success rate gets a Beta posterior, ``Beta(a + successes, b + failures)``, with
the prior ``(a, b) = (2, 1)`` for test-driven, the favourite until evidence says
otherwise, and ``(1, 1)`` for the rest. For every target one value is drawn from each
posterior and the method with the largest draw runs. The random generator is seeded with
the base commit and the target, so the same ledger gives the same choice.

Chaos is not among the choices: it hardens tests instead of making code faster.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.core import ledger_file
from bot.core.candidate import Target
from bot.core.evaluation import Evaluation
from bot.core.method import Method, MethodContext
from methods import actor_critic, adversarial, test_driven

NAME = "auto"
GENERATOR: str | None = None  # the run's generator makes its candidates
CHOICES: tuple[Method, ...] = (test_driven, adversarial, actor_critic)
FAVOURITE_PRIOR = (2.0, 1.0)
PRIOR = (1.0, 1.0)


@dataclass(frozen=True)
class Record:
    """How often a method's attempts at a target ended with an accepted candidate."""

    successes: int = 0
    failures: int = 0

    def posterior(self, favourite: bool) -> tuple[float, float]:
        a, b = FAVOURITE_PRIOR if favourite else PRIOR
        return a + self.successes, b + self.failures


@dataclass(frozen=True)
class Choice:
    """The method chosen for a target, every method's draw, and the record behind them."""

    method: str
    draws: dict[str, float]
    records: dict[str, Record]

    def explain(self) -> str:
        parts = [
            f"{name} {self.records[name].successes}/"
            f"{self.records[name].successes + self.records[name].failures} accepted "
            f"(draw {draw:.2f})"
            for name, draw in self.draws.items()
        ]
        return f"auto chose {self.method} by Thompson sampling: " + ", ".join(parts)


def records(entries: Iterable[Mapping[str, object]], methods: Iterable[str]) -> dict[str, Record]:
    """Successes and failures per method, one per (run, target, method) attempt."""
    attempts: dict[tuple[str, str, str], bool] = {}
    for entry in entries:
        method = entry.get("method")
        if not isinstance(method, str):
            continue
        key = (str(entry.get("run_id", "")), str(entry.get("target", "")), method)
        attempts[key] = attempts.get(key, False) or entry.get("accepted") is True
    found = {name: Record() for name in methods}
    for (_, _, method), accepted in attempts.items():
        if method in found:
            old = found[method]
            found[method] = Record(old.successes + accepted, old.failures + (not accepted))
    return found


def choose(known: Mapping[str, Record], rng: random.Random) -> Choice:
    """One Thompson-sampling draw per method; the largest wins (ties: the earlier method)."""
    draws = {
        name: rng.betavariate(*record.posterior(name == test_driven.NAME))
        for name, record in known.items()
    }
    best = max(draws, key=lambda name: draws[name])
    return Choice(best, draws, dict(known))


def seeded(base_commit: str, target: Target) -> random.Random:
    """The random generator for one target of one base commit: reproducible choices."""
    digest = hashlib.sha256(f"{base_commit}:{target.key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def run(ctx: MethodContext, target: Target) -> list[Evaluation]:
    """Choose a method for ``target`` from the home ledger, say why, and run it."""
    by_name = {m.NAME: m for m in CHOICES}
    entries = ledger_file.read(ctx.request.home / "ledger.jsonl")
    choice = choose(records(entries, by_name), seeded(ctx.request.base_commit, target))
    ctx.note(f"{target.key}: {choice.explain()}")
    found: list[Evaluation] = by_name[choice.method].run(ctx, target)
    return found
