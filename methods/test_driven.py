"""Test-driven: pin current behaviour first, then improve only under that safety net.

The pins are the calls recorded while the suite ran (the orchestrator's capture stage);
this method asks the generator for all its candidates for a target (a model's candidate comes
on top of the codemods', never instead of them) and has each one proven by the gates, whose
performance gate replays those pins. A target with no recorded calls is skipped:
nothing could show that a change keeps its behaviour.
"""

from __future__ import annotations

from bot.core.candidate import Target
from bot.core.evaluation import Evaluation
from bot.core.method import MethodContext

NAME = "test-driven"
GENERATOR: str | None = None  # the run's generator makes its candidates


def run(ctx: MethodContext, target: Target) -> list[Evaluation]:
    """Every candidate for ``target``, each proven (or refused) by the gate cascade."""
    if ctx.baseline.captured_calls.get(target.key, 0) == 0:
        ctx.note(f"{target.key}: no calls recorded while the suite ran, so nothing can be proven")
        return []
    candidates = ctx.generator.propose(ctx, target, method=NAME)
    if not candidates:
        ctx.note(f"{target.key}: the {ctx.generator.name} generator has no candidate")
    return [ctx.evaluate(candidate) for candidate in candidates]
