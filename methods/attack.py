"""Edge-case attacks: the bot's side of ``bot/core/harness/selfimprove_attack.py``.

Inputs are derived from the captured calls inside the target's interpreter (the bot never
unpickles them), run on the base, and kept as records; each candidate then replays those
records in its own worktree. Any disagreement (result, argument mutation, exception type,
no answer in time) is a :class:`Breach` naming the input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.harness_script import run_script
from bot.core.request import Request

SCRIPT = "selfimprove_attack.py"
DERIVED_PER_TARGET = 120
CALL_SECONDS = 0.5  # an edge case the base cannot answer in this time is dropped
DERIVE_BUDGET_SECONDS = 30.0


@dataclass(frozen=True)
class EdgeCases:
    """Derived inputs recorded on the base, for one target; ``file`` is handed to ``check``."""

    key: str
    file: Path
    count: int
    tried: int
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Breach:
    """The first derived input on which a candidate disagrees with the base.

    An empty ``label`` means no input was tried: the candidate's function did not load.
    """

    label: str
    reason: str
    failures: int
    checked: int

    def __str__(self) -> str:
        if not self.label:
            return f"cannot be attacked: {self.reason}"
        more = f" (and {self.failures - 1} more)" if self.failures > 1 else ""
        return f"breaks on edge case {self.label}: {self.reason}{more}"


class AttackError(Exception):
    """The attack script itself could not run (crash, timeout, unreadable answer)."""


def derive(
    request: Request,
    base_project: Path,
    capture: Path,
    key: str,
    import_roots: Sequence[str],
    work_dir: Path,
) -> EdgeCases:
    """Edge cases of ``key``'s captured calls, recorded on the base into ``work_dir``."""
    out = work_dir / f"edge-cases-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"
    settings = {
        "mode": "derive",
        "records": str(capture),
        "targets": [key],
        "limit": DERIVED_PER_TARGET,
        "call_seconds": CALL_SECONDS,
        "budget_seconds": DERIVE_BUDGET_SECONDS,
    }
    answer = _run(request, base_project, import_roots, settings, out)
    entry = answer["targets"].get(key, {})
    return EdgeCases(
        key=key,
        file=out,
        count=len(entry.get("calls", [])),
        tried=int(entry.get("tried", 0)),
        errors=tuple(str(e) for e in entry.get("errors", [])),
    )


def check(
    request: Request, candidate_project: Path, cases: EdgeCases, import_roots: Sequence[str]
) -> Breach | None:
    """Replay ``cases`` on a candidate; the first disagreement, or None when there is none."""
    settings = {
        "mode": "check",
        "records": str(cases.file),
        "targets": [cases.key],
        "call_seconds": CALL_SECONDS,
        "rel_tol": request.thresholds.float_rel_tol,
        "abs_tol": request.thresholds.float_abs_tol,
    }
    answer = _run(request, candidate_project, import_roots, settings, None)
    entry = answer["targets"].get(cases.key, {})
    errors = entry.get("errors", [])
    if errors:
        return Breach("", "; ".join(errors), 1, 0)  # the function does not even load
    failures: list[dict[str, Any]] = entry.get("failures", [])
    if not failures:
        return None
    first = failures[0]
    return Breach(str(first["label"]), str(first["reason"]), len(failures), int(entry["calls"]))


def _run(
    request: Request,
    project: Path,
    import_roots: Sequence[str],
    settings: dict[str, Any],
    out: Path | None,
) -> dict[str, Any]:
    """Run the attack script with ``settings`` in ``project``; its JSON answer (also kept
    in ``out``, when given: the edge cases the base answered, for each candidate)."""
    ran = run_script(
        request,
        SCRIPT,
        project,
        settings,
        import_roots=import_roots,
        kind="attack",
        readable=(Path(str(settings["records"])),),
        out=out,
    )
    if ran.timed_out:
        raise AttackError(
            f"the edge-case attack did not finish in {request.limits.replay_timeout:g}s"
        )
    answer = ran.answer
    if answer is None:
        raise AttackError(f"the edge-case attack failed: it {ran.problem}")
    if not isinstance(answer.get("targets"), dict):
        raise AttackError("the edge-case attack wrote an unreadable answer")
    return answer
