"""The embedded, offline generator: one candidate per codemod rule, then per ruff fix, that
changes the target.

With ``history``, rules already tried for the target are skipped, so a method that asks
again (actor-critic revising, adversarial wanting more entrants) gets the next rules.
The memoise rule is told what the captured calls showed (:mod:`methods.purity`); ruff's
curated fixes (:mod:`methods.ruff_fixes`) come after the codemods.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.generator import Attempt
from bot.core.method import MethodContext
from bot.core.request import Request
from methods.codemods import MEMO, rewrites_for
from methods.codemods.rules.memoise import Memo
from methods.purity import memo_for
from methods.ruff_fixes import ruff_rewrites

NAME = "codemods"


class CodemodGenerator:
    """libcst rewrites and ruff fixes: deterministic, no network, always available."""

    name = NAME

    def propose(
        self,
        ctx: MethodContext,
        target: Target,
        *,
        method: str,
        history: Sequence[Attempt] = (),
        count: int | None = None,
    ) -> list[Candidate]:
        source = ctx.base_source(target.file)
        repo_path = ctx.request.repo_relative(target.file)
        tried = {a.candidate.diff_sha256 for a in history}
        found: list[Candidate] = []
        memo = memo_for(ctx, target)
        for rule, description, new, provenance in rewrites(ctx.request, target, source, memo):
            diff = make_diff(repo_path, source, new)
            if not diff:
                continue
            candidate = Candidate(
                target=target,
                diff=diff,
                files=(repo_path,),
                method=method,
                generator=NAME,
                rule=rule,
                description=description,
                provenance=provenance,
            )
            if candidate.diff_sha256 in tried:
                continue
            tried.add(candidate.diff_sha256)  # two sources may propose the same change
            found.append(candidate)
            if count is not None and len(found) >= count:
                break
        return found


def rewrites(
    request: Request, target: Target, source: str, memo: Memo | None = None
) -> Iterator[tuple[str, str, str, dict[str, str]]]:
    """(rule, description, new module text, provenance): the codemods first, then ruff.

    ``memo`` is what the captured calls showed about purity; without it (``selfimprove
    plan``, which captures nothing) the memoise rule proposes nothing."""
    for rewrite in rewrites_for(source, target.qualname, {MEMO: memo} if memo else {}):
        yield rewrite.rule, rewrite.description, rewrite.source, {}
    for fix in ruff_rewrites(request, source, target.qualname, target.file):
        yield fix.rule, fix.description, fix.source, {"tool": "ruff", "ruff_rules": fix.code}
