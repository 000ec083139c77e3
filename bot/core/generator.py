"""The contract for candidate generators (codemods, language models): what a method asks for.

A method decides *which* candidates to try and how to search; a generator only proposes
diffs for one target. ``history`` carries earlier attempts at the same target with what the
gates (and a critic, if any) said, so a generator can revise instead of repeating itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.core.candidate import Candidate, Target
from bot.core.evaluation import Evaluation

if TYPE_CHECKING:
    from bot.core.method import MethodContext


@dataclass(frozen=True)
class Attempt:
    """An earlier candidate for the same target, its verdict, and a critic's explanation."""

    candidate: Candidate
    evaluation: Evaluation | None = None
    critique: str = ""


class Generator(Protocol):
    """Something that proposes candidate diffs for a target."""

    @property
    def name(self) -> str:
        """Recorded as ``Candidate.generator``."""
        ...

    def propose(
        self,
        ctx: MethodContext,
        target: Target,
        *,
        method: str,
        history: Sequence[Attempt] = (),
        count: int | None = None,
    ) -> list[Candidate]:
        """Up to ``count`` new candidates (all it has when ``None``); [] when it has none.

        Never raises for a generator-side failure (a model that is down, a reply that does
        not parse): it tells the user through ``ctx.note`` and returns what it has.
        """
        ...


@runtime_checkable
class Reviewer(Protocol):
    """A generator that can also criticise a proven attempt in words (a language model).

    Actor-critic adds what it says to the objective critique; the codemods cannot review.
    """

    def review(self, ctx: MethodContext, attempt: Attempt) -> str:
        """A few sentences on what still costs time and what to change; "" when it cannot."""
        ...
