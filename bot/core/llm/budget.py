"""The run's spending on models: calls, tokens and an estimated cost, against its limits.

Checked before every request, so generation stops cleanly once a limit is reached and the
report can say which one. Cost is estimated from the configured price table; a model with
no price counts as free, and the run is told so once.
"""

from __future__ import annotations

from typing import Any

from bot.core.llm.completion import Completion
from bot.core.llm.settings import LLMSettings


class Budget:
    """What has been spent so far, and whether the next request may be made."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.calls = 0
        self.cached_replies = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0
        self.unpriced: set[str] = set()
        self.stopped: str | None = None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

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

    def reply_limit(self) -> int:
        """The most reply tokens to ask for: the configured cap, within the tokens left."""
        cap = self.settings.max_reply_tokens
        if self.settings.max_tokens is None:
            return cap
        return max(1, min(cap, self.settings.max_tokens - self.tokens))

    def charge(self, model: str, completion: Completion) -> float:
        """Count one request; returns its estimated cost in US dollars."""
        self.calls += 1
        self.input_tokens += completion.input_tokens
        self.output_tokens += completion.output_tokens
        price = self.settings.prices.get(model)
        if price is None:
            self.unpriced.add(model)
            return 0.0
        cost = (
            completion.input_tokens * price.input + completion.output_tokens * price.output
        ) / 1e6
        self.cost += cost
        return cost

    def summary(self) -> dict[str, Any]:
        """For the run's JSON and report."""
        return {
            "calls": self.calls,
            "cached_replies": self.cached_replies,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "estimated_cost_usd": round(self.cost, 6),
            "unpriced_models": sorted(self.unpriced),
            "budget_stopped": self.stopped,
        }
