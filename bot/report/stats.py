"""``selfimprove stats``: what the bot did and what maintainers made of it, from its home.

Read from the ledger (one line per candidate decision) and ``events.jsonl`` (each run, and
each pull request opened, merged or closed as the runs saw them). Broken down by method, generator
and rule; the acceptance rate by method is what ``auto`` learns from.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.atomic import append_line
from bot.core.ledger_file import read

LEDGER_FILE = "ledger.jsonl"
EVENTS_FILE = "events.jsonl"
DIMENSIONS = ("method", "generator", "rule")
EVENTS = ("opened", "merged", "closed")


@dataclass
class Stats:
    """Counts over the whole history in one home."""

    runs: int = 0
    candidates: Counter[tuple[str, str]] = field(default_factory=Counter)  # (dim, name)
    accepted: Counter[tuple[str, str]] = field(default_factory=Counter)
    pulls: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (event, dim, name)
    pull_totals: Counter[str] = field(default_factory=Counter)  # event -> distinct PRs
    merged_speedups: list[float] = field(default_factory=list)

    @property
    def total_candidates(self) -> int:
        return sum(n for (dim, _), n in self.candidates.items() if dim == "method")

    @property
    def total_accepted(self) -> int:
        return sum(n for (dim, _), n in self.accepted.items() if dim == "method")

    @property
    def median_merged_speedup(self) -> float | None:
        return statistics.median(self.merged_speedups) if self.merged_speedups else None

    def acceptance(self, method: str) -> float:
        tried = self.candidates[("method", method)]
        return self.accepted[("method", method)] / tried if tried else 0.0


def gather(ledger: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]) -> Stats:
    """Count candidates, acceptances and pull-request events (each PR once per event)."""
    stats = Stats()
    runs: set[str] = set()
    for entry in ledger:
        runs.add(str(entry.get("run_id")))
        for dim in DIMENSIONS:
            name = str(entry.get(dim) or "-")
            stats.candidates[(dim, name)] += 1
            if entry.get("accepted"):
                stats.accepted[(dim, name)] += 1
    counted: set[tuple[str, int]] = set()
    for event in events:
        if event.get("event") == "run":
            runs.add(str(event.get("run_id")))
            continue
        kind, number = str(event.get("event")), int(event.get("number") or 0)
        if kind not in EVENTS or (kind, number) in counted:
            continue
        counted.add((kind, number))
        stats.pull_totals[kind] += 1
        for change in event.get("changes") or ():
            for dim in DIMENSIONS:
                stats.pulls[(kind, dim, str(change.get(dim) or "-"))] += 1
            speedup = change.get("speedup")
            if kind == "merged" and isinstance(speedup, int | float):
                stats.merged_speedups.append(float(speedup))
    stats.runs = len(runs)
    return stats


def from_home(home: Path) -> Stats:
    """The stats of everything recorded in ``home``."""
    return gather(read(home / LEDGER_FILE), read(home / EVENTS_FILE))


def record_events(home: Path, run_id: str, events: Iterable[Mapping[str, Any]]) -> None:
    """Append events (a run; a pull request opened, merged, closed) to the home's log."""
    for event in events:
        append_line(home / EVENTS_FILE, json.dumps({"run_id": run_id, **event}, sort_keys=True))


def markdown(stats: Stats) -> str:
    """The stats as Markdown: totals, then one table per dimension."""
    median = stats.median_merged_speedup
    lines = [
        "## selfimprove stats",
        "",
        f"- runs: {stats.runs}",
        f"- candidates: {stats.total_candidates}, accepted: {stats.total_accepted}",
        "- pull requests: " + ", ".join(f"{stats.pull_totals[kind]} {kind}" for kind in EVENTS),
        f"- median speed-up of merged changes: {f'{median:.2f}x' if median else 'none yet'}",
    ]
    for dim in DIMENSIONS:
        names = sorted({name for d, name in stats.candidates if d == dim} | _pull_names(stats, dim))
        if not names:
            continue
        rate = " acceptance |" if dim == "method" else ""
        lines += [
            "",
            f"| {dim} | candidates | accepted |{rate} opened | merged | closed |",
            "|---|---|---|" + ("---|" if dim == "method" else "") + "---|---|---|",
        ]
        for name in names:
            cells = [name, str(stats.candidates[(dim, name)]), str(stats.accepted[(dim, name)])]
            if dim == "method":
                cells.append(f"{stats.acceptance(name):.0%}")
            cells += [str(stats.pulls[(kind, dim, name)]) for kind in EVENTS]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pull_names(stats: Stats, dim: str) -> set[str]:
    return {name for _, d, name in stats.pulls if d == dim}
