"""The audit trail: one JSON line per candidate decision, in the run folder and the bot's home.

The home copy accumulates across runs; later methods (``auto``) read it to learn which
methods get accepted where.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bot.core import sandbox
from bot.core.atomic import append_line
from bot.core.evaluation import Evaluation
from bot.core.ledger_file import read
from bot.report.results import evaluation_json, timing_json

__all__ = ["read", "record"]


def record(
    paths: tuple[Path, ...], run_id: str, base_commit: str, evaluation: Evaluation, decision: str
) -> None:
    """Append the decision about one candidate to every ledger in ``paths``."""
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "base_commit": base_commit,
        "decision": decision,
        **evaluation_json(evaluation),
        "timing": timing_json(evaluation),
        "sandbox": sandbox.CLOCK.sandbox_label(),
    }
    line = json.dumps(entry, sort_keys=True)
    for path in paths:
        append_line(path, line)
