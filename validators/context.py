"""The data a gate reads and the verdict it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.baseline import Baseline
from bot.core.candidate import Candidate
from bot.core.evaluation import GateResult
from bot.core.request import Request

__all__ = ["GateContext", "GateResult", "Verdict", "failed", "passed"]


@dataclass(frozen=True)
class GateContext:
    """One candidate, checked out in its own worktree, next to the base worktree."""

    request: Request
    candidate: Candidate
    baseline: Baseline
    candidate_root: Path

    @property
    def base_root(self) -> Path:
        return self.baseline.root

    @property
    def base_project(self) -> Path:
        return self.request.project_path(self.baseline.root)

    @property
    def candidate_project(self) -> Path:
        return self.request.project_path(self.candidate_root)


@dataclass(frozen=True)
class Verdict:
    """What a gate's ``check`` returns; the cascade adds the gate's name and time."""

    passed: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def passed(reason: str, **details: Any) -> Verdict:
    return Verdict(True, reason, dict(details))


def failed(reason: str, **details: Any) -> Verdict:
    return Verdict(False, reason, dict(details))
