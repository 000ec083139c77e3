"""One run's workspace: worktrees, the base tree, the one way to prove a candidate, cleanup.

``run``, ``plan`` and ``merge`` all open a :class:`Session`. However the block ends
(success, a user error, Ctrl-C, SIGTERM) every subprocess tree is killed and every
worktree removed before the exception travels on; the user's own tree is never written.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import git

from bot.core import interrupt, sandbox
from bot.core.baseline import Baseline
from bot.core.candidate import Candidate
from bot.core.evaluation import Evaluation, GateResult
from bot.core.request import Request
from bot.core.worktree import Worktrees, apply_diff
from bot.flow.progress import Progress
from validators.cascade import GATES, run_cascade
from validators.context import GateContext


@dataclass
class Session:
    """Open with ``with Session(request, progress, run_id) as session:``."""

    request: Request
    progress: Progress
    run_id: str
    _trees: Worktrees | None = field(default=None, init=False, repr=False)
    _base: Path | None = field(default=None, init=False, repr=False)
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _scratch: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def __enter__(self) -> Session:
        interrupt.check()
        self._trees = Worktrees(self.request.repo_root, self.request.home, self.run_id).__enter__()
        try:
            self._base = self._trees.add("base", self.request.base_commit)
        except BaseException:
            self._close(failed=True)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close(failed=exc is not None)

    def _close(self, *, failed: bool) -> None:
        """Kill what still runs (on failure), then remove every worktree, whatever happens."""
        try:
            if failed:
                sandbox.kill_all()
        finally:
            if self._trees is not None:
                self._trees.close()
                self._trees = None

    @property
    def trees(self) -> Worktrees:
        assert self._trees is not None, "the session is not open"
        return self._trees

    @property
    def base_root(self) -> Path:
        """The base commit's worktree: profiling, capture and the base side of every gate."""
        assert self._base is not None, "the session is not open"
        return self._base

    def base_text(self, path: str) -> str:
        """A repository file's text at the base commit."""
        return (self.base_root / path).read_text()

    def evaluate(self, baseline: Baseline, candidate: Candidate) -> Evaluation:
        """Check a candidate out in its own worktree, run the gates, remove the worktree."""
        interrupt.check()
        index = next(self._counter)
        self.progress.candidate(index, candidate)
        root = self.trees.add(f"candidate-{index}", self.request.base_commit)
        try:
            try:
                apply_diff(root, candidate.diff)
            except git.GitCommandError as exc:
                reason = f"the diff does not apply to the base commit: {exc.stderr.strip()}"
                failed = GateResult(GATES[0].NAME, False, 0.0, reason)
                self.progress.gate(failed.gate, failed)
                return Evaluation(candidate, (failed,), len(GATES))
            context = GateContext(self.request, candidate, baseline, root)
            return run_cascade(context, on_gate=self._on_gate)
        finally:
            self.trees.remove(root)

    def _on_gate(self, name: str, result: GateResult | None) -> None:
        interrupt.check()
        self.progress.gate(name, result)

    @contextmanager
    def checkout(self, diff: str) -> Iterator[Path]:
        """A scratch worktree of the base with ``diff`` applied, removed however it ends."""
        root = self.trees.add(f"scratch-{next(self._scratch)}", self.request.base_commit)
        try:
            apply_diff(root, diff)
            yield root
        finally:
            self.trees.remove(root)
