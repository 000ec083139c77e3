"""Static-tool findings compared base vs candidate: the "no new findings" rule of gates 2-4.

A finding is keyed without its line number (lines move whenever code changes), so a file
that already had warnings can still be improved: only what the candidate adds counts.
Each base-side result is computed once per run and kept in the baseline's cache.
"""

from __future__ import annotations

import json
import posixpath
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core import sandbox
from validators.context import GateContext

_LINE_REFERENCE = re.compile(r"\bline \d+\b")


@dataclass(frozen=True)
class Finding:
    """One complaint of a tool; ``source`` is the flagged line's text when the key needs it."""

    file: str
    line: int
    rule: str
    message: str
    source: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two findings the same: no line number, not even inside the message."""
        return (self.file, self.rule, _LINE_REFERENCE.sub("line N", self.message), self.source)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.rule} {self.message}"


def new_findings(base: Iterable[Finding], candidate: Iterable[Finding]) -> list[Finding]:
    """The candidate's findings minus the base's, as multisets of keys, in file/line order."""
    budget = Counter(finding.key for finding in base)
    new: list[Finding] = []
    for finding in sorted(candidate, key=lambda f: (f.file, f.line, f.rule, f.message)):
        if budget[finding.key] > 0:
            budget[finding.key] -= 1
        else:
            new.append(finding)
    return new


def summary(what: str, new: Sequence[Finding]) -> str:
    """One line naming the first new finding and how many there are."""
    noun = "finding" if len(new) == 1 else "findings"
    return f"{len(new)} new {what} {noun}, first: {new[0]}"


class ToolFailure(Exception):
    """A tool timed out, crashed or printed nothing readable: the gate fails, never passes."""


def run_tool(
    ctx: GateContext,
    tool: str,
    args: Sequence[str],
    cwd: Path,
    ok: tuple[int, ...] = (0, 1),
    env: Mapping[str, str] | None = None,
    writable: Sequence[Path] = (),
) -> sandbox.Completed:
    """Run ``python -m tool args`` in the sandbox; raise :class:`ToolFailure` unless it ended ok.

    ``writable`` names what the tool may write beyond ``cwd``'s checkout (mypy's cache)."""
    timeout = ctx.request.limits.tool_timeout
    argv = [sys.executable, "-m", tool, *args]
    done = sandbox.run(
        argv, cwd, timeout=timeout, kind=tool, env=env, request=ctx.request, writable=writable
    )
    if done.timed_out:
        raise ToolFailure(f"{tool} timed out after {timeout:g} s")
    if done.returncode not in ok:
        raise ToolFailure(f"{tool} exited with code {done.returncode}: {_last_line(done)}")
    return done


def json_output(done: sandbox.Completed, tool: str) -> Any:
    """The tool's stdout as JSON, or :class:`ToolFailure` naming what it printed instead."""
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise ToolFailure(f"{tool} printed no JSON: {_last_line(done)}") from None


def _last_line(done: sandbox.Completed) -> str:
    return done.tail(1) or "no output"


def project_path(project: Path, reported: str) -> str:
    """A path a tool printed, made relative to the project folder (POSIX)."""
    path = Path(reported)
    if path.is_absolute():
        try:
            return path.resolve().relative_to(project.resolve()).as_posix()
        except ValueError:
            return path.as_posix()
    return posixpath.normpath(path.as_posix())


Scan = Callable[[Path, Sequence[str]], list[Finding]]
"""Run a tool over project-relative files inside a project folder, return its findings."""


def compare_files(
    ctx: GateContext, name: tuple[str, ...], files: Sequence[str], scan: Scan
) -> list[Finding]:
    """New findings of ``scan`` over ``files``; the base side is cached per (name, file)."""
    cache = ctx.baseline.cache
    missing = [f for f in files if (*name, f) not in cache]
    if missing:
        found = _scan_present(scan, ctx.base_project, missing, "base")
        for file in missing:
            cache[(*name, file)] = tuple(f for f in found if f.file == file)
    base: list[Finding] = []
    for file in files:
        cached = cache[(*name, file)]
        if isinstance(cached, tuple):
            base.extend(f for f in cached if isinstance(f, Finding))
    candidate = _scan_present(scan, ctx.candidate_project, files, "candidate")
    return new_findings(base, candidate)


def cached_base(
    ctx: GateContext, key: tuple[str, ...], compute: Callable[[], list[Finding]]
) -> list[Finding]:
    """The base-side findings stored under ``key``, computed on the first call of the run."""
    cached = ctx.baseline.cache.get(key)
    if isinstance(cached, tuple):
        return [f for f in cached if isinstance(f, Finding)]
    try:
        found = compute()
    except ToolFailure as exc:
        raise ToolFailure(f"{exc} (on the base)") from None
    ctx.baseline.cache[key] = tuple(found)
    return found


def _scan_present(scan: Scan, project: Path, files: Sequence[str], side: str) -> list[Finding]:
    """Scan the files that exist on this side (a new or deleted file has nothing to say)."""
    present = [f for f in files if (project / f).is_file()]
    if not present:
        return []
    try:
        return scan(project, present)
    except ToolFailure as exc:
        raise ToolFailure(f"{exc} (on the {side})") from None
