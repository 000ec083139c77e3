"""Reading the ledger: the JSON-lines audit trail of every candidate decision.

It lives in the core so a method (``auto``) can learn from past outcomes without importing
the orchestrator; ``bot.bundle.ledger`` writes it and re-exports :func:`read`.
"""

from __future__ import annotations

import json
from pathlib import Path


def read(path: Path) -> list[dict[str, object]]:
    """Every decision recorded in a ledger file (missing file: none).

    A line that does not parse (a run killed mid-write) is skipped, not fatal.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    entries: list[dict[str, object]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
