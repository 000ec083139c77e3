"""Entrants' own tests, turned against each other.

A generator may bring tests along with a change (a model often does; the codemods never
do). Those tests that pass on the *base* describe behaviour every entrant must keep, so
each entrant is run against the tests of all the others: a failure kills it, naming the
test and whose it was. Tests that fail on the base pin a behaviour change, not the base,
and are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import git
from unidiff.patch import PatchSet

from bot.core.candidate import Candidate
from bot.core.request import Request
from bot.core.testrun import run_suite
from bot.core.worktree import Worktrees, apply_diff


@dataclass(frozen=True)
class TestsOf:
    """An entrant's test files (as a diff of their own) and the node ids that pass on base."""

    candidate: Candidate
    diff: str
    node_ids: tuple[str, ...]


@dataclass(frozen=True)
class Pins:
    """Every entrant's base-passing tests, by the entrant's diff hash."""

    by_entrant: dict[str, TestsOf] = field(default_factory=dict)

    def tests_from(self, candidate: Candidate) -> tuple[str, ...]:
        found = self.by_entrant.get(candidate.diff_sha256)
        return found.node_ids if found else ()

    def against(self, candidate: Candidate) -> list[TestsOf]:
        """The other entrants' tests that ``candidate`` must pass."""
        return [t for k, t in self.by_entrant.items() if k != candidate.diff_sha256 and t.node_ids]

    def count_against(self, candidate: Candidate) -> int:
        return sum(len(t.node_ids) for t in self.against(candidate))


def is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def test_part(diff: str) -> str:
    """The part of ``diff`` that touches test files ("" when there is none)."""
    return "".join(str(f) for f in PatchSet(diff) if is_test_file(f.path))


def collect(request: Request, entrants: Sequence[Candidate]) -> Pins:
    """Each entrant's tests, run on the base; only the passing ones become pins."""
    with_tests = [(c, part) for c in entrants if (part := test_part(c.diff))]
    if not with_tests:
        return Pins()
    found: dict[str, TestsOf] = {}
    run_id = f"{request.output_dir.name}-cross-tests"
    with Worktrees(request.repo_root, request.home, run_id) as trees:
        for index, (candidate, part) in enumerate(with_tests):
            root = trees.add(f"base-with-tests-{index}", request.base_commit)
            try:
                apply_diff(root, part)
                ran = run_suite(request, root, only=_project_paths(request, part))
            except git.GitCommandError:
                continue  # its tests do not apply to the base alone
            finally:
                trees.remove(root)
            passing = tuple(sorted(n for n, outcome in ran.outcomes.items() if outcome == "passed"))
            found[candidate.diff_sha256] = TestsOf(candidate, part, passing)
    return Pins(found)


def run_against(request: Request, pins: Pins, candidate: Candidate, root: Path) -> str | None:
    """Run the other entrants' tests in ``candidate``'s checkout at ``root``; why it fails."""
    for theirs in pins.against(candidate):
        try:
            apply_diff(root, theirs.diff)
        except git.GitCommandError:
            continue  # the two entrants changed the same test file; nothing fair to run
        ran = run_suite(request, root, only=theirs.node_ids)
        failed = [n for n in theirs.node_ids if ran.outcomes.get(n) != "passed"]
        if failed:
            who = f"{theirs.candidate.rule} ({theirs.candidate.id})"
            return f"fails test {failed[0]} written by entrant {who}, which passes on the base"
    return None


def _project_paths(request: Request, diff: str) -> list[str]:
    """The test files of ``diff`` relative to the project folder (what pytest is given)."""
    prefix = "" if request.project == "." else request.project.rstrip("/") + "/"
    return [f.path[len(prefix) :] for f in PatchSet(diff) if f.path.startswith(prefix)]
