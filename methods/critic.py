"""The objective critic: a reward and an explanation from what the gates measured.

Reward, for a candidate whose cascade ran ``passed`` of ``gates`` gates (it stops at the
first failure) and whose performance gate measured the base/candidate median ratio ``r``:

    reward = passed / gates + (r - 1 if every gate passed else 0)

So a candidate that gets further through the cascade always scores more, every accepted
candidate scores at least 1, and among accepted ones the larger proven speed-up wins
(1.5x scores 1.5, 2x scores 2). A ratio that was measured but not proven earns nothing:
noise must not steer the actor.

The critique names the gate that stopped the candidate and its reason, the ratio with its
confidence interval and p-value when one was measured, the candidate's hottest lines (a
line profile on the captured calls, :mod:`methods.line_profile`) and the reward against
the best so far, so the actor (a model, or the codemods skipping what was tried) can revise.
"""

from __future__ import annotations

from bot.core.evaluation import Evaluation

PERFORMANCE = "performance"


def reward(evaluation: Evaluation) -> float:
    """The documented reward of one evaluated candidate (see the module docstring)."""
    passed = sum(1 for r in evaluation.results if r.passed)
    score = min(passed, evaluation.gate_count) / evaluation.gate_count
    if evaluation.accepted:
        score += max(0.0, evaluation.speedup - 1.0)
    return round(score, 4)


def measured(evaluation: Evaluation) -> str:
    """The performance gate's numbers in a sentence, or "" when it did not measure."""
    perf = evaluation.result(PERFORMANCE)
    if perf is None or "ratio" not in perf.details:
        return ""
    d = perf.details
    return (
        f"measured {float(d['ratio']):.2f}x (95% CI {float(d.get('ci_low', 0)):.2f}-"
        f"{float(d.get('ci_high', 0)):.2f}x, p={float(d.get('p_value', 1)):.2g})"
    )


def critique(
    evaluation: Evaluation, score: float, best: float | None, round_no: int, profile: str = ""
) -> str:
    """What the critic tells the actor about one round's candidate (``profile``: hot lines)."""
    parts = [f"round {round_no}: reward {score:.3g}"]
    if best is not None:
        parts[0] += f" (best so far {best:.3g})"
    stopped = evaluation.stopped_by
    if stopped is not None:
        parts.append(f"stopped at the {stopped.gate} gate: {stopped.reason}")
    else:
        parts.append("passed every gate")
    numbers = measured(evaluation)
    if numbers:
        parts.append(numbers)
    if profile:
        parts.append(profile)
    if stopped is not None and stopped.gate == PERFORMANCE and numbers:
        parts.append("make the hot path cheaper; the gain is not yet proven")
    elif stopped is not None and stopped.gate != PERFORMANCE:
        parts.append("keep the behaviour and the checks green before chasing speed")
    else:
        parts.append("try a larger gain on the same function")
    return "; ".join(parts)
