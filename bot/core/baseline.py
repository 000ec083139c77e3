"""What the base commit looked like when the suite ran: the facts every gate compares against."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.core.candidate import Target


@dataclass
class Baseline:
    """Facts about the base worktree, gathered once per run and shared by every gate.

    ``callers`` maps a function's key to the keys of every project function that calls it,
    directly or not, as seen by the profiler. ``cache`` lets a gate compute a base-side
    result once (ruff findings of a file, the mypy error multiset, ...) and reuse it for
    every candidate of the run.
    """

    root: Path
    work_dir: Path
    test_outcomes: dict[str, str]
    import_roots: tuple[str, ...]
    targets: tuple[Target, ...] = ()
    capture_file: Path | None = None
    captured_calls: dict[str, int] = field(default_factory=dict)
    sampled_calls: dict[str, int] = field(default_factory=dict)  # the first ones: a fair sample
    # The tests that called each target; absent when it was also called outside any test.
    tests_calling: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # How each target is bound, as the capture found it: "plain", "method", "static", "class".
    target_kinds: dict[str, str] = field(default_factory=dict)
    # Recorded calls of a method target that a test can make on a rebuilt receiver, counted
    # by the method that rebuilt them (chaos); absent where none tried.
    rebuilt_receivers: dict[str, int] = field(default_factory=dict)
    callers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cache: dict[tuple[str, ...], object] = field(default_factory=dict)

    @property
    def passed_tests(self) -> frozenset[str]:
        return frozenset(t for t, outcome in self.test_outcomes.items() if outcome == "passed")

    def affected_targets(self, key: str) -> tuple[str, ...]:
        """Other targets whose speed a change to ``key`` can touch: those that call it.

        Without a call graph for ``key`` every other target counts (the safe answer).
        """
        others = tuple(t.key for t in self.targets if t.key != key)
        if key not in self.callers:
            return others
        callers = set(self.callers[key])
        return tuple(k for k in others if k in callers)
