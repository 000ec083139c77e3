"""Candidates written by language models, along a chain that always ends in the codemods.

For a target the chain is walked in order: a cached reply is used for free, otherwise the
model is asked (the client retries 429/5xx/timeouts itself); a model that stays down, a reply
that does not parse, or a spent budget moves on to the next link, and the codemods close the
chain. Every model candidate carries its provenance: provider, model, tokens, estimated cost
and the prompt's hash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.generator import Attempt, Generator
from bot.core.llm.budget import Budget
from bot.core.llm.cache import PromptCache, cache_key
from bot.core.llm.chain import Link, connect
from bot.core.llm.completion import Completion, ModelUnavailable
from bot.core.method import MethodContext
from bot.core.request import Request
from methods.codemod_generator import CodemodGenerator
from methods.llm_prompt import MAX_REVIEW_CHARS, Prompt, build_prompt, build_review_prompt
from methods.llm_reply import ReplyRejected, parse_reply

NAME = "llm"
GIVE_UP_AFTER = 2  # failures in a row (each after its retries) before a link is left out


class LLMGenerator:
    """The chain of models, its budget and prompt cache, and the codemods as the last link.

    With ``count=None`` the first link that yields a candidate ends the walk (a fallback
    chain); with a ``count`` each link may add one, and the codemods fill what is missing.
    """

    name = NAME

    def __init__(
        self, links: Sequence[Link], budget: Budget, cache: PromptCache, fallback: Generator
    ) -> None:
        self.links = tuple(links)
        self.budget = budget
        self.cache = cache
        self.fallback = fallback
        self._said: set[str] = set()
        self._failures: dict[str, int] = {}

    @property
    def chain(self) -> str:
        return " -> ".join([*(str(link.spec) for link in self.links), self.fallback.name])

    def propose(
        self,
        ctx: MethodContext,
        target: Target,
        *,
        method: str,
        history: Sequence[Attempt] = (),
        count: int | None = None,
    ) -> list[Candidate]:
        wanted = 1 if count is None else count
        tried = {a.candidate.diff_sha256 for a in history}
        found: list[Candidate] = []
        links = self.links
        try:
            prompt = build_prompt(ctx, target, history)
        except (OSError, SyntaxError, ValueError) as exc:
            ctx.note(f"{target.key}: cannot build a prompt ({exc}); codemods only")
            links = ()
        for link in links:
            if len(found) >= wanted:
                break
            if self._failures.get(str(link.spec), 0) >= GIVE_UP_AFTER:
                continue
            candidate = self._ask(ctx, link, prompt, target, method, tried)
            if candidate is not None:
                found.append(candidate)
                tried.add(candidate.diff_sha256)
            elif self.budget.stopped:
                break
        if found and count is None:
            return found
        more = None if count is None else count - len(found)
        if more == 0:
            return found
        extra = self.fallback.propose(ctx, target, method=method, history=history, count=more)
        return found + [c for c in extra if c.diff_sha256 not in tried]

    def summary(self) -> dict[str, Any]:
        """The chain and what it spent, for the run's JSON and report."""
        return {"chain": self.chain, **self.budget.summary()}

    def _ask(
        self,
        ctx: MethodContext,
        link: Link,
        prompt: Prompt,
        target: Target,
        method: str,
        tried: set[str],
    ) -> Candidate | None:
        asked = self._complete(ctx, link, prompt, target)
        if asked is None:
            return None
        completion, cached, cost = asked
        source = ctx.base_source(target.file)
        repo_path = ctx.request.repo_relative(target.file)
        try:
            rewrite = parse_reply(completion.text, source, target.qualname, repo_path)
        except ReplyRejected as exc:
            ctx.note(f"discarded the reply of {link.spec} for {target.key}: {exc}")
            return None
        candidate = Candidate(
            target=target,
            diff=make_diff(repo_path, source, rewrite.source),
            files=(repo_path,),
            method=method,
            generator=NAME,
            rule=f"llm-{rewrite.form}",
            description=(
                f"A faster {target.qualname}, written by {link.spec} "
                f"(prompt sha256 {prompt.sha256[:12]})."
            ),
            provenance=_provenance(link, prompt, completion, cost, cached, rewrite.form),
        )
        if candidate.diff_sha256 in tried:
            ctx.note(f"discarded the reply of {link.spec} for {target.key}: it repeats an attempt")
            return None
        return candidate

    def review(self, ctx: MethodContext, attempt: Attempt) -> str:
        """The first model that answers criticises ``attempt`` in words ("" when none can).

        Same budget, cache and failure counting as proposals; the reply is advice that the
        next prompt fences as data, so it is only trimmed, never parsed or run.
        """
        target = attempt.candidate.target
        try:
            prompt = build_review_prompt(ctx, attempt)
        except (OSError, SyntaxError, ValueError):
            return ""
        for link in self.links:
            if self._failures.get(str(link.spec), 0) >= GIVE_UP_AFTER:
                continue
            asked = self._complete(ctx, link, prompt, target)
            if asked is not None:
                text = " ".join(asked[0].text.split())
                return text[:MAX_REVIEW_CHARS]
            if self.budget.stopped:
                break
        return ""

    def _complete(
        self, ctx: MethodContext, link: Link, prompt: Prompt, target: Target
    ) -> tuple[Completion, bool, float] | None:
        """The model's reply (cached, or asked within the budget), whether it was cached,
        and what it cost; ``None`` when the budget is spent or the model gave no answer."""
        key = cache_key(link.spec, prompt.sha256)
        completion = self.cache.get(key)
        if completion is not None:
            self.budget.cached_replies += 1
            return completion, True, 0.0
        spent = self.budget.spent()
        if spent is not None:
            self._once(ctx.note, f"{spent}: no more model calls this run")
            return None
        try:
            completion = link.client.complete(
                prompt.system, prompt.user, max_tokens=self.budget.reply_limit()
            )
        except ModelUnavailable as exc:
            ctx.note(f"{link.spec} gave no answer for {target.key}: {exc}")
            failures = self._failures.get(str(link.spec), 0) + 1
            self._failures[str(link.spec)] = failures
            if failures == GIVE_UP_AFTER:
                ctx.note(f"{link.spec} failed {failures} times in a row: not asked again")
            return None
        self._failures[str(link.spec)] = 0
        cost = self.budget.charge(link.spec.model, completion)
        self.cache.put(key, completion)
        return completion, False, cost

    def _once(self, note: Callable[[str], None], text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            note(text)


def _provenance(
    link: Link, prompt: Prompt, completion: Completion, cost: float, cached: bool, form: str
) -> dict[str, str]:
    return {
        "provider": link.spec.provider,
        "model": link.spec.model,
        "input_tokens": str(completion.input_tokens),
        "output_tokens": str(completion.output_tokens),
        "tokens": str(completion.tokens),
        "cost_usd": f"{cost:.6f}",
        "prompt_sha256": prompt.sha256,
        "cached": "true" if cached else "false",
        "reply_form": form,
    }


def generator_for(request: Request, note: Callable[[str], None]) -> Generator:
    """The run's generator: the configured chain of models ending in the codemods, or the
    codemods alone when no model can be used (said once, through ``note``)."""
    codemods = CodemodGenerator()
    links, notes = connect(request.llm)
    for text in notes:
        note(text)
    if not links:
        return codemods
    settings = request.llm
    if settings.max_cost is not None:
        unpriced = sorted({link.spec.model for link in links} - set(settings.prices))
        if unpriced:
            note(
                f"no price for {', '.join(unpriced)} in [tool.selfimprove.llm.prices]: "
                "their cost is not counted against max-cost"
            )
    cache = PromptCache(request.home / "cache" / "llm")
    return LLMGenerator(links, Budget(settings), cache, codemods)
