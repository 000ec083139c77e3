"""Run the seven gates cheapest first; the first failure stops the cascade."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from bot.core.evaluation import Evaluation, GateResult
from validators import integration, performance, security, style, syntax, types, unit
from validators.context import GateContext, Verdict


class Gate(Protocol):
    """A gate module: its name and one check of a candidate in its worktree."""

    NAME: str

    def check(self, ctx: GateContext) -> Verdict: ...


GATES: tuple[Gate, ...] = (syntax, style, security, types, unit, integration, performance)
GATE_NAMES: tuple[str, ...] = tuple(g.NAME for g in GATES)

GateListener = Callable[[str, GateResult | None], None]


def run_gate(gate: Gate, ctx: GateContext) -> GateResult:
    """Run one gate and time it; a gate that crashes fails with the crash as its reason."""
    began = time.perf_counter()
    try:
        verdict: Verdict = gate.check(ctx)
    except Exception as exc:  # a broken gate must reject, never accept
        verdict = Verdict(False, f"gate error: {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - began
    return GateResult(gate.NAME, verdict.passed, seconds, verdict.reason, verdict.details)


def run_cascade(
    ctx: GateContext,
    *,
    gates: Sequence[Gate] = GATES,
    on_gate: GateListener | None = None,
) -> Evaluation:
    """Run ``gates`` in order; ``on_gate(name, None)`` before each, ``on_gate(name, r)`` after."""
    results: list[GateResult] = []
    for gate in gates:
        if on_gate:
            on_gate(gate.NAME, None)
        result = run_gate(gate, ctx)
        results.append(result)
        if on_gate:
            on_gate(gate.NAME, result)
        if not result.passed:
            break
    return Evaluation(ctx.candidate, tuple(results), len(gates))
