"""Candidates written by language models, along a chain that always ends in the codemods.

For a target the chain is walked in order: a cached reply is used at no cost, otherwise the
model is asked (the client retries 429/5xx, and timeouts where that helps, itself); a model
that stays down, a reply that does not parse, or a spent budget moves on to the next link,
and the codemods close the chain: their candidates are always added, never replaced by a
model's. Each model call is told to the user as it starts and ends (who, for what, how
long, retries), and every request counts against the budget. Every model candidate carries
its provenance: provider, model, tokens, estimated cost and the prompt's hash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import git

from bot.core.candidate import Candidate, Target
from bot.core.diffs import make_diff
from bot.core.generator import Attempt, Generator
from bot.core.llm.budget import Budget
from bot.core.llm.cache import PromptCache, cache_key
from bot.core.llm.chain import Link, connect
from bot.core.llm.completion import Completion, ModelUnavailable, Requests
from bot.core.method import MethodContext
from bot.core.request import Request
from methods.codemod_generator import CodemodGenerator
from methods.llm_prompt import MAX_REVIEW_CHARS, Prompt, build_prompt, build_review_prompt
from methods.llm_reply import ReplyRejected, parse_reply

NAME = "llm"
GIVE_UP_AFTER = 2  # failures in a row (each after its retries) before a link is left out
PROMPT_HASH_SHOWN = 16  # hex digits of the prompt's sha256 in progress notes


class LLMGenerator:
    """The chain of models, its budget and prompt cache, and the codemods as the last link.

    With ``count=None`` the first model that yields a candidate ends the walk (a fallback
    chain) and every codemod candidate is added to it; with a ``count`` each link may add
    one, and the codemods fill what is missing.
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
        wanted = 1 if count is None else count  # model candidates
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
            rewrite = parse_reply(
                completion.text, source, target.qualname, repo_path, _repo_files(ctx)
            )
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
        and what it cost; ``None`` when the budget is spent or the model gave no answer.
        Every request counts against the budget, answered or not."""
        settings = self.budget.settings
        what = f"{prompt.purpose} of {target.key}"
        shown = f"prompt {prompt.sha256[:PROMPT_HASH_SHOWN]}"  # to find the cache entry by
        key = cache_key(link.spec, prompt.sha256, settings.temperature)
        # The budget first: a cached reply counts as a call, so a re-run stops where the
        # run that filled the cache stopped.
        spent = self.budget.spent()
        if spent is not None:
            self._once(ctx.note, f"{spent}: no more model calls this run")
            return None
        completion = self.cache.get(key)
        if completion is not None:
            self.budget.charge_cached(completion)
            ctx.note(f"{link.spec}, {what}: from the prompt cache ({shown})")
            return completion, True, 0.0
        max_tokens = self.budget.reply_limit(prompt.reply_tokens)
        ctx.note(
            f"asking {link.spec} for the {what} "
            f"({shown}, up to {max_tokens} tokens, {settings.timeout:g} s at most)"
        )
        prompt_tokens = (len(prompt.system) + len(prompt.user)) // 4

        def retrying(why: str) -> None:
            ctx.note(f"{link.spec}, {what}: {why}")

        try:
            completion = link.client.complete(
                prompt.system,
                prompt.user,
                max_tokens=max_tokens,
                temperature=settings.temperature,
                on_retry=retrying,
            )
        except ModelUnavailable as exc:
            self.budget.charge(
                link.spec.model,
                exc.requests,
                None,
                prompt_tokens=prompt_tokens,
                max_tokens=max_tokens,
            )
            ctx.note(f"{link.spec} gave no answer to the {what} ({_took(exc.requests)}): {exc}")
            failures = self._failures.get(str(link.spec), 0) + 1
            self._failures[str(link.spec)] = failures
            if failures == GIVE_UP_AFTER:
                ctx.note(f"{link.spec} failed {failures} times in a row: not asked again")
            return None
        self._failures[str(link.spec)] = 0
        cost = self.budget.charge(
            link.spec.model,
            completion.requests,
            completion,
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
        )
        ctx.note(
            f"{link.spec} answered the {what} ({_took(completion.requests)}, "
            f"{completion.tokens} tokens)"
        )
        self.cache.put(key, completion, prompt.system, prompt.user)
        return completion, False, cost

    def _once(self, note: Callable[[str], None], text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            note(text)


def _took(requests: Requests) -> str:
    """``1.2 s`` or ``4.0 s, 2 retries, 1 timed out``: how long one model call took."""
    parts = [f"{requests.seconds:.1f} s"]
    if requests.retries:
        parts.append(f"{requests.retries} retr{'y' if requests.retries == 1 else 'ies'}")
    if requests.timed_out:
        parts.append(f"{requests.timed_out} timed out")
    return ", ".join(parts)


def _repo_files(ctx: MethodContext) -> tuple[str, ...]:
    """The base commit's files (repository-relative), to match a diff's path against."""
    key = ("repo-files",)
    if key not in ctx.baseline.cache:
        try:
            listed = git.Repo(ctx.baseline.root).git.ls_files().splitlines()
        except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError):
            listed = []
        ctx.baseline.cache[key] = tuple(listed)
    files = ctx.baseline.cache[key]
    return files if isinstance(files, tuple) else ()


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
