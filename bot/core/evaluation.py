"""Verdicts: what each gate said about a candidate, and what the cascade concluded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.candidate import Candidate


@dataclass(frozen=True)
class GateResult:
    """A gate's verdict, how long it took, and one line a human can act on."""

    gate: str
    passed: bool
    seconds: float
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """A candidate and the gate results it collected (the cascade stops at the first failure)."""

    candidate: Candidate
    results: tuple[GateResult, ...]
    gate_count: int

    @property
    def accepted(self) -> bool:
        return len(self.results) == self.gate_count and all(r.passed for r in self.results)

    @property
    def stopped_by(self) -> GateResult | None:
        return next((r for r in self.results if not r.passed), None)

    def result(self, gate: str) -> GateResult | None:
        return next((r for r in self.results if r.gate == gate), None)

    @property
    def speedup(self) -> float:
        """The measured base/candidate ratio, or 0.0 when the performance gate did not pass."""
        perf = self.result("performance")
        if perf is None or not perf.passed:
            return 0.0
        return float(perf.details.get("ratio", 0.0))

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)
