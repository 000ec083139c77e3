"""The contract between the orchestrator and a method: what a method may use, and return."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.core.baseline import Baseline
from bot.core.candidate import Candidate, Target
from bot.core.evaluation import Evaluation
from bot.core.generator import Generator
from bot.core.request import Request


@dataclass(frozen=True)
class MethodContext:
    """Given to a method for one run: the facts, and the one way to prove a candidate.

    ``evaluate`` checks a candidate out in a fresh worktree, runs the gate cascade on it and
    removes the worktree; ``note`` tells the user something (progress, a skipped target);
    ``generator`` proposes candidates (the codemods, or a chain of models ending in them).
    """

    request: Request
    baseline: Baseline
    evaluate: Callable[[Candidate], Evaluation]
    note: Callable[[str], None]
    generator: Generator
    gate_count: int = 7  # gates in the cascade, so a method's own verdicts fit an Evaluation
    # A scratch worktree of the base commit with a diff applied, removed on exit: for
    # variants that are not candidates (chaos's mutants). None where the caller has no trees.
    checkout: Callable[[str], AbstractContextManager[Path]] | None = None

    def base_source(self, project_relative: str) -> str:
        """A project file's text at the base commit."""
        path = self.request.project_path(self.baseline.root) / project_relative
        return path.read_text()


class Method(Protocol):
    """What the orchestrator needs of a method module: its name, a label, and ``run``.

    Each file in ``methods/`` that is a method satisfies this as a module; the registry
    (:mod:`methods.registry`) returns them typed as ``Method`` so mypy checks the dispatch.
    """

    NAME: str
    GENERATOR: str | None  # its own candidate search, or None: the run's generator is used

    def run(self, ctx: MethodContext, target: Target) -> list[Evaluation]: ...
