"""Actor-critic: an actor proposes, a critic scores and explains, the actor revises.

The actor is the run's generator, asked for one candidate per round with every earlier
attempt and its critique in ``history``. The critic (:mod:`methods.critic`) scores each
proven candidate from objective signals (how far it got through the gates, the measured
speed-up with its confidence interval, a line profile of the candidate) and says why in
words the actor reads next round; with a model chain configured, a model also reviews the
attempt and its words join the critique (the reward stays objective).

Rounds are bounded (``actor-critic-rounds``, default 3). The loop stops early when the
reward stops improving or the actor has nothing new. Every round's candidate is returned
with ``round``, ``reward`` and the ``trajectory`` so far in its provenance, so the ledger
and the report show how the search went; the orchestrator ships the best accepted one.
"""

from __future__ import annotations

import dataclasses

from bot.core.candidate import Target
from bot.core.evaluation import Evaluation
from bot.core.generator import Attempt, Reviewer
from bot.core.method import MethodContext
from methods import critic, line_profile

NAME = "actor-critic"
GENERATOR: str | None = None  # the run's generator makes its candidates


def run(ctx: MethodContext, target: Target) -> list[Evaluation]:
    """Up to ``actor_critic_rounds`` revisions of a candidate for ``target``, each proven."""
    if ctx.baseline.captured_calls.get(target.key, 0) == 0:
        ctx.note(f"{target.key}: no calls recorded while the suite ran, so nothing can be proven")
        return []
    attempts: list[Attempt] = []
    evaluations: list[Evaluation] = []
    rewards: list[float] = []
    rounds = ctx.request.actor_critic_rounds
    for round_no in range(1, rounds + 1):
        proposed = ctx.generator.propose(ctx, target, method=NAME, history=attempts, count=1)
        if not proposed:
            if round_no == 1:
                ctx.note(f"{target.key}: the {ctx.generator.name} generator has no candidate")
            else:
                ctx.note(f"{target.key}: the actor has nothing new after round {round_no - 1}")
            break
        evaluation = ctx.evaluate(proposed[0])
        score = critic.reward(evaluation)
        best = max(rewards) if rewards else None
        rewards.append(score)
        evaluation = _with_round(evaluation, round_no, rewards)
        evaluations.append(evaluation)
        profile = ""
        if evaluation.result(critic.PERFORMANCE) is not None:  # behaves: where is its time?
            profile = line_profile.summary(line_profile.hot_lines(ctx, evaluation.candidate))
        words = critic.critique(evaluation, score, best, round_no, profile)
        if isinstance(ctx.generator, Reviewer):  # a model critic adds its reading
            said = ctx.generator.review(ctx, Attempt(evaluation.candidate, evaluation, words))
            words += f"; a model's review: {said}" if said else ""
        attempts.append(Attempt(evaluation.candidate, evaluation, words))
        ctx.note(f"{target.key}: {words}")
        if best is not None and score <= best:
            ctx.note(f"{target.key}: the reward stopped improving ({trajectory(rewards)}); stop")
            break
    else:
        if rewards:
            ctx.note(f"{target.key}: {rounds} round(s) done ({trajectory(rewards)})")
    return evaluations


def trajectory(rewards: list[float]) -> str:
    """Rewards round by round, e.g. ``0.571 -> 1.48``."""
    return " -> ".join(f"{r:.3g}" for r in rewards)


def _with_round(evaluation: Evaluation, round_no: int, rewards: list[float]) -> Evaluation:
    """The evaluation, its candidate carrying the round, its reward and the trajectory."""
    candidate = evaluation.candidate
    provenance = {
        **candidate.provenance,
        "round": str(round_no),
        "reward": f"{rewards[-1]:.4g}",
        "trajectory": trajectory(rewards),
    }
    return dataclasses.replace(
        evaluation, candidate=dataclasses.replace(candidate, provenance=provenance)
    )
