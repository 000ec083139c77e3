"""The embedded, offline generator: one candidate per codemod rule that changes the target.

With ``history``, rules already tried for the target are skipped, so a method that asks
again (actor-critic revising, adversarial wanting more entrants) gets the next rules.
The memoise rule is told what the captured calls showed (:mod:`methods.purity`).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.generator import Attempt
from bot.core.method import MethodContext
from methods.codemods import MEMO, rewrites_for
from methods.purity import memo_for

NAME = "codemods"


class CodemodGenerator:
    """libcst rewrites: deterministic, no network, always available."""

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
        facts = {MEMO: memo} if memo is not None else {}
        for rewrite in rewrites_for(source, target.qualname, facts):
            diff = make_diff(repo_path, source, rewrite.source)
            if not diff:
                continue
            candidate = Candidate(
                target=target,
                diff=diff,
                files=(repo_path,),
                method=method,
                generator=NAME,
                rule=rewrite.rule,
                description=rewrite.description,
            )
            if candidate.diff_sha256 in tried:
                continue
            found.append(candidate)
            if count is not None and len(found) >= count:
                break
        return found
