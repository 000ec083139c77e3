"""The run's spending on models: calls, tokens and an estimated cost, against its limits.

Checked before every request, so generation stops cleanly once a limit is reached and the
report can say which one. Every request counts: answered, failed, timed out, retried, or
served from the prompt cache (at no cost, but it counts, so a re-run stops where the first
run stopped and asks nothing new). A timed-out request is charged its prompt and the whole
reply it asked for: the server may have made all of it, and a paid API bills what it made.
Cost is estimated from the configured price table; a model with no price counts as free,
and the run is told so once.
"""

from __future__ import annotations

from typing import Any

from bot.core.llm.completion import Completion, Requests
from bot.core.llm.settings import LLMSettings


class Budget:
    """What has been spent so far, and whether the next request may be made."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.calls = 0  # every request, the cached ones included
        self.cached_replies = 0
        self.retries = 0
        self.timeouts = 0
        self.failures = 0  # asked in vain (after any retries)
        self.input_tokens = 0
        self.output_tokens = 0
        self.cached_tokens = 0  # what the cached replies once cost: counted, not paid
        self.cost = 0.0
        self.unpriced: set[str] = set()
        self.stopped: str | None = None

    @property
    def tokens(self) -> int:
        """Tokens against ``max_tokens``: those paid for and those the cache served."""
        return self.input_tokens + self.output_tokens + self.cached_tokens

    def spent(self) -> str | None:
        """Why no further request may be made (and remember it), or ``None`` if one may."""
        limits = self.settings
        if limits.max_calls is not None and self.calls >= limits.max_calls:
            self.stopped = f"the budget of {limits.max_calls} model call(s) is spent"
        elif limits.max_tokens is not None and self.tokens >= limits.max_tokens:
            self.stopped = f"the budget of {limits.max_tokens} tokens is spent ({self.tokens})"
        elif limits.max_cost is not None and self.cost >= limits.max_cost:
            self.stopped = (
                f"the budget of ${limits.max_cost:g} is spent (estimated ${self.cost:.4f})"
            )
        else:
            return None
        return self.stopped

    def reply_limit(self, wanted: int) -> int:
        """The most reply tokens to ask for: what the call needs, within the configured cap
        and the tokens left."""
        cap = min(wanted, self.settings.max_reply_tokens)
        if self.settings.max_tokens is None:
            return cap
        return max(1, min(cap, self.settings.max_tokens - self.tokens))

    def charge(
        self,
        model: str,
        requests: Requests,
        completion: Completion | None,
        *,
        prompt_tokens: int,
        max_tokens: int,
    ) -> float:
        """Count what asking once took (``completion`` is ``None`` when nothing came back);
        returns its estimated cost in US dollars."""
        self.calls += requests.sent
        self.retries += requests.retries
        self.timeouts += requests.timed_out
        self.failures += completion is None
        input_tokens = requests.timed_out * prompt_tokens
        output_tokens = requests.timed_out * max_tokens
        if completion is not None:
            input_tokens += completion.input_tokens
            output_tokens += completion.output_tokens
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        price = self.settings.prices.get(model)
        if price is None:
            self.unpriced.add(model)
            return 0.0
        cost = (input_tokens * price.input + output_tokens * price.output) / 1e6
        self.cost += cost
        return cost

    def charge_cached(self, completion: Completion) -> None:
        """Count a reply the prompt cache served: one request, no cost."""
        self.calls += 1
        self.cached_replies += 1
        self.cached_tokens += completion.tokens

    def summary(self) -> dict[str, Any]:
        """For the run's JSON and report."""
        return {
            "calls": self.calls,
            "cached_replies": self.cached_replies,
            "retries": self.retries,
            "timeouts": self.timeouts,
            "failures": self.failures,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "estimated_cost_usd": round(self.cost, 6),
            "unpriced_models": sorted(self.unpriced),
            "budget_stopped": self.stopped,
        }
