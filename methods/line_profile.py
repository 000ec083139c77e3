"""Where a candidate spends its time, line by line: one of the critic's objective signals.

The bot's side of ``bot/core/harness/selfimprove_lineprofile.py``: the candidate is checked
out in a scratch worktree, its target function replays the captured calls under a line
tracer in the target's interpreter, and the hottest lines come back as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import git

from bot.core.candidate import Candidate, Target
from bot.core.harness_script import run_script
from bot.core.method import MethodContext
from bot.core.worktree import Worktrees, apply_diff

SCRIPT = "selfimprove_lineprofile.py"
BUDGET_SECONDS = 2.0
SHOWN = 3


@dataclass(frozen=True)
class HotLine:
    """One line of the target function: its share of the traced time (which varies from run
    to run) and its hits in one pass over the recorded calls (which does not)."""

    line: int
    share: float
    hits: int
    source: str

    def __str__(self) -> str:
        return f"line {self.line} `{self.source}` {self.share:.0%} ({self.hits} hits)"


@dataclass(frozen=True)
class Traced:
    """The traced lines of one function, and the names its running code uses that its source
    never mentions (a decorator recompiled it: its line numbers cannot say what ran)."""

    lines: tuple[HotLine, ...]
    rewritten: tuple[str, ...] = ()


def hot_lines(ctx: MethodContext, candidate: Candidate) -> list[HotLine]:
    """The candidate's hottest lines on the captured calls; [] when they cannot be measured."""
    if ctx.baseline.capture_file is None:
        return []
    with _checkout(ctx, candidate) as root:
        if root is None:
            return []
        return list(_measure(ctx, root, candidate.target.key).lines[:SHOWN])


def base_lines(ctx: MethodContext, target: Target) -> list[HotLine]:
    """Every traced line of the base function on the captured calls, measured once a run.

    What a model is shown: it reads them by hits in one pass (deterministic), not by time, so
    the prompt stays the same on a re-run and the prompt cache can serve it.
    """
    return list(base_trace(ctx, target).lines)


def base_trace(ctx: MethodContext, target: Target) -> Traced:
    """The base function traced on the captured calls (once a run), with ``rewritten``."""
    key = ("base-lines", target.key)
    if key not in ctx.baseline.cache:
        found = _measure(ctx, ctx.baseline.root, target.key) if ctx.baseline.capture_file else None
        ctx.baseline.cache[key] = found or Traced(())
    cached = ctx.baseline.cache[key]
    return cached if isinstance(cached, Traced) else Traced(())


def _measure(ctx: MethodContext, root: Path, target_key: str) -> Traced:
    """Trace ``target_key`` replaying the captured calls in the checkout at ``root``."""
    capture = ctx.baseline.capture_file
    ran = run_script(
        ctx.request,
        SCRIPT,
        ctx.request.project_path(root),
        {"records": str(capture), "target": target_key, "budget_seconds": BUDGET_SECONDS},
        import_roots=ctx.baseline.import_roots,
        kind="line-profile",
        readable=(capture,) if capture else (),
    )
    answer = ran.answer
    if answer is None:
        return Traced(())
    rows = answer.get("lines", [])
    total = sum(float(r["seconds"]) for r in rows) or 1.0
    lines = tuple(
        HotLine(int(r["line"]), float(r["seconds"]) / total, int(r["hits"]), str(r["source"]))
        for r in rows
    )
    return Traced(lines, tuple(str(n) for n in answer.get("rewritten", ())))


def summary(lines: list[HotLine]) -> str:
    """``hottest lines: ...`` for a critique, or "" when nothing was measured."""
    return "hottest lines: " + "; ".join(str(line) for line in lines) if lines else ""


@contextmanager
def _checkout(ctx: MethodContext, candidate: Candidate) -> Iterator[Path | None]:
    """The candidate in a scratch worktree (the run's, when it offers one); None if no apply."""
    with ExitStack() as stack:
        root: Path | None = None
        try:
            if ctx.checkout is not None:
                root = stack.enter_context(ctx.checkout(candidate.diff))
            else:
                run_id = f"{ctx.request.output_dir.name}-line-profile"
                trees = stack.enter_context(
                    Worktrees(ctx.request.repo_root, ctx.request.home, run_id)
                )
                root = trees.add("candidate", ctx.request.base_commit)
                apply_diff(root, candidate.diff)
        except git.GitCommandError:
            root = None
        yield root
