"""What the bot remembers of maintainers' decisions, on GitHub and in ``$SELFIMPROVE_HOME``.

On GitHub the memory is the bot's own pull requests: each body carries one hidden marker
per change (its key, the function's source hash before and after, its provenance). A bot
pull request closed without merging, or labelled ``selfimprove:ignore``, declines its keys;
a merged one records the source it wrote. So it works across Actions runs with no server.
Locally the same facts, and which pull requests were already counted for
``selfimprove stats``, live in ``memory.json`` in the bot's home.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core import atomic
from bot.github.noise import Change, Memory
from bot.github.pulls import is_ours
from bot.report.results import PullRef

IGNORE_LABEL = "selfimprove:ignore"
CHANGE_MARK = "<!-- selfimprove:change"
_MARK = re.compile(r"<!-- selfimprove:change ([^>]*?) -->")
_FIELD = re.compile(r"(\w+)=(\S+)")
MEMORY_FILE = "memory.json"


def change_marker(change: Change) -> str:
    """The hidden line a pull request body carries for one of its changes."""
    candidate = change.delivered.evaluation.candidate
    ratio = change.impact.speedup
    fields = {
        "key": change.key,
        "before": change.before,
        "after": change.after or "-",
        "target": candidate.target.key,
        "method": candidate.method,
        "generator": candidate.generator.replace(" ", "_") or "-",
        "rule": candidate.rule.replace(" ", "_") or "-",
        "speedup": f"{ratio:.4f}" if ratio else "-",
    }
    return f"{CHANGE_MARK} " + " ".join(f"{k}={v}" for k, v in fields.items()) + " -->"


def changes_in(body: str) -> list[dict[str, str]]:
    """The change markers of a pull request body, as field dictionaries."""
    return [dict(_FIELD.findall(found)) for found in _MARK.findall(body or "")]


def declined(pull: PullRef) -> bool:
    """Closed without merging, or labelled ``selfimprove:ignore``."""
    return IGNORE_LABEL in pull.labels or (pull.state == "closed" and not pull.merged)


def memory_from(pulls: Iterable[PullRef]) -> Memory:
    """The memory GitHub holds: the bot's declined and merged pull requests."""
    memory = Memory()
    for pull in pulls:
        if not is_ours(pull.body):
            continue
        for change in changes_in(pull.body):
            if declined(pull):
                memory.declined[change.get("key", "")] = _label(change)
            elif pull.merged and change.get("after", "-") != "-":
                memory.merged_after.add(change["after"])
    memory.declined.pop("", None)
    return memory


def load(home: Path) -> tuple[Memory, dict[str, str]]:
    """The local memory and the state each counted pull request was last seen in."""
    try:
        data = json.loads((home / MEMORY_FILE).read_text())
    except (OSError, ValueError):
        return Memory(), {}
    if not isinstance(data, dict):
        return Memory(), {}
    memory = Memory(
        declined={str(k): str(v) for k, v in dict(data.get("declined") or {}).items()},
        merged_after={str(h) for h in data.get("merged_after") or ()},
        undeclined={str(k) for k in data.get("undeclined") or ()},
    )
    return memory, {str(k): str(v) for k, v in dict(data.get("seen") or {}).items()}


def save(home: Path, memory: Memory, seen: Mapping[str, str]) -> None:
    """Write the local memory in one atomic step."""
    data = {
        "declined": dict(sorted(memory.declined.items())),
        "merged_after": sorted(memory.merged_after),
        "undeclined": sorted(memory.undeclined),
        "seen": dict(sorted(seen.items())),
    }
    home.mkdir(parents=True, exist_ok=True)
    atomic.write_text(home / MEMORY_FILE, json.dumps(data, indent=1) + "\n")


def pull_events(pulls: Iterable[PullRef], seen: dict[str, str]) -> list[dict[str, Any]]:
    """Events for bot pull requests not yet counted (opened, merged, closed); updates ``seen``.

    A fresh home (an Actions job) thus learns the history of the latest 100 from GitHub.
    """
    events: list[dict[str, Any]] = []
    for pull in pulls:
        if not is_ours(pull.body):
            continue
        number = str(pull.number)
        if number not in seen:
            seen[number] = "open"
            events.append(_event("opened", pull.number, changes_in(pull.body)))
        state = "open" if pull.state == "open" else "merged" if pull.merged else "closed"
        if seen[number] != state:
            seen[number] = state
            events.append(_event(state, pull.number, changes_in(pull.body)))
    return events


def _event(state: str, number: int, changes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "event": state,
        "number": number,
        "changes": [
            {
                "method": str(c.get("method") or "-"),
                "generator": str(c.get("generator") or "-"),
                "rule": str(c.get("rule") or "-"),
                "speedup": _float(c.get("speedup")),
            }
            for c in changes
        ],
    }


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _label(change: Mapping[str, str]) -> str:
    target, rule = change.get("target", "?"), change.get("rule", "?")
    return f"`{target}` ({rule}, {change.get('generator', '?')})"
