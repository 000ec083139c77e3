"""Progress for long work: one line per stage, candidate and gate, on stderr."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from bot.core.candidate import Candidate
from bot.core.evaluation import GateResult
from bot.report.render import duration


class Progress:
    """Prints as the run goes; with ``console=None`` it only keeps the lines (for tests)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console
        self.lines: list[str] = []

    def _say(self, text: str) -> None:
        self.lines.append(text)
        if self.console is not None:
            self.console.print(escape(text), highlight=False)

    def stage(self, name: str, detail: str) -> None:
        self._say(f"[{name}] {detail}")

    def candidate(self, index: int, candidate: Candidate) -> None:
        self._say(f"[candidate {index}] {candidate.target.key} · {candidate.rule}")

    def gate(self, name: str, result: GateResult | None) -> None:
        if result is None:
            return
        mark = "pass" if result.passed else "FAIL"
        self._say(f"    {name:<12} {mark}  {duration(result.seconds):>9}  {result.reason}")

    def note(self, text: str) -> None:
        self._say(f"note: {text}")
