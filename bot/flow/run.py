"""The orchestrator: Request → targets → method → candidates → gates → selection → bundle.

One direction, no back-and-forth. Every worktree is removed when the run ends, however
it ends (success, failure, Ctrl-C, SIGTERM), and the bundle is on disk before anything
else would be attempted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bot.core import interrupt, sandbox
from bot.core.candidate import Candidate
from bot.core.evaluation import Evaluation
from bot.core.generator import Generator
from bot.core.method import MethodContext
from bot.core.request import Request
from bot.flow.characterize import prepare
from bot.flow.deliver import deliver, select
from bot.flow.merge_rule import merge_same_files
from bot.flow.progress import Progress
from bot.flow.session import Session
from bot.report.results import RunResult
from methods import registry
from methods.llm_generator import LLMGenerator, generator_for
from validators.cascade import GATES


def run(request: Request, progress: Progress, given: Generator | None = None) -> RunResult:
    """Do one whole run and return what it found; the bundle is written to ``output_dir``.

    ``given`` replaces the configured generator (a test's own generator, for instance).
    """
    began = time.perf_counter()
    sandbox.CLOCK.reset()
    result = RunResult(run_id=request.output_dir.name, request=request)
    for warning in request.warnings:
        progress.note(warning)
        result.notes.append(warning)
    with Session(request, progress, result.run_id) as session:
        baseline, result.targets = prepare(request, session.base_root, session.trees.root, progress)
        method = registry.load(request.method)

        def evaluate(candidate: Candidate) -> Evaluation:
            return session.evaluate(baseline, candidate)

        def note(text: str) -> None:
            progress.note(text)
            result.notes.append(text)

        generator = given or generator_for(request, note)
        context = MethodContext(
            request,
            baseline,
            evaluate,
            note,
            generator,
            gate_count=len(GATES),
            checkout=session.checkout,
        )
        using = method.GENERATOR or f"the {generator.name} generator"
        progress.stage("generating", f"{method.NAME} with {using}")
        for target in baseline.targets:
            interrupt.check()
            result.evaluations.extend(method.run(context, target))
        result.targets = [
            replace(t, rebuilt_receivers=baseline.rebuilt_receivers.get(t.target.key))
            for t in result.targets
        ]
        if isinstance(generator, LLMGenerator):
            result.llm = generator.summary()
        chosen = _merge_shared_files(result, session.base_root, evaluate, progress)
        result.seconds = time.perf_counter() - began
        deliver(request, result, progress, chosen)
    result.seconds = time.perf_counter() - began
    result.subprocess_seconds = dict(sandbox.CLOCK.seconds)
    return result


def _merge_shared_files(
    result: RunResult,
    base_root: Path,
    evaluate: Callable[[Candidate], Evaluation],
    progress: Progress,
) -> list[Evaluation]:
    """The best change per target, with changes that share a file merged and proven again.

    Several targets (and methods) can change one file; shipped side by side, changes that
    passed alone could still clash, so :func:`merge_same_files` proves the whole.
    """
    merged = merge_same_files(
        select(result.evaluations), evaluate, lambda path: (base_root / path).read_text()
    )
    result.evaluations.extend(merged.evaluations)
    for text in merged.notes:
        progress.note(text)
        result.notes.append(text)
    return merged.chosen
