"""Test-driven: pin current behaviour first, then improve only under that safety net.

The pins are the calls recorded while the suite ran (the orchestrator's capture stage);
this method makes codemod candidates for a target and has each one proven by the gates,
whose performance gate replays those pins. A target with no recorded calls is skipped:
nothing could show that a change keeps its behaviour.
"""

from __future__ import annotations

from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.evaluation import Evaluation
from bot.core.method import MethodContext
from methods.codemods import rewrites_for

NAME = "test-driven"


def candidates_for(ctx: MethodContext, target: Target) -> list[Candidate]:
    """One candidate per codemod rule that changes the target function."""
    source = ctx.base_source(target.file)
    repo_path = ctx.request.repo_relative(target.file)
    found: list[Candidate] = []
    for rewrite in rewrites_for(source, target.qualname):
        diff = make_diff(repo_path, source, rewrite.source)
        if diff:
            found.append(
                Candidate(
                    target=target,
                    diff=diff,
                    files=(repo_path,),
                    method=NAME,
                    generator="codemods",
                    rule=rewrite.rule,
                    description=rewrite.description,
                )
            )
    return found


def run(ctx: MethodContext, target: Target) -> list[Evaluation]:
    """Every candidate for ``target``, each proven (or refused) by the gate cascade."""
    if ctx.baseline.captured_calls.get(target.key, 0) == 0:
        ctx.note(f"{target.key}: no calls recorded while the suite ran, so nothing can be proven")
        return []
    candidates = candidates_for(ctx, target)
    if not candidates:
        ctx.note(f"{target.key}: no codemod applies")
    return [ctx.evaluate(candidate) for candidate in candidates]
