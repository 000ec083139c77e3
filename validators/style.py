"""Gate 2: ruff check and ruff format find nothing new against the base.

Both run inside the project folder on the changed files, so the project's own ruff config
(rules, excludes, line length) decides what a finding is; the base gets the same command.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from validators.context import GateContext, Verdict, failed, passed
from validators.findings import (
    Finding,
    ToolFailure,
    compare_files,
    json_output,
    project_path,
    run_tool,
    summary,
)
from validators.paths import changed_python_files

NAME = "style"

RUFF_CHECK = ("check", "--output-format", "json", "--no-cache", "--no-fix", "--force-exclude")
RUFF_FORMAT = ("format", "--check", "--no-cache", "--force-exclude")


def check(ctx: GateContext) -> Verdict:
    """Fail on the first lint or format finding the candidate adds."""
    files = changed_python_files(ctx)
    if not files:
        return passed("no changed Python files to lint")
    try:
        lint = compare_files(ctx, (NAME, "ruff-check"), files, partial(ruff_lint, ctx))
        fmt = compare_files(ctx, (NAME, "ruff-format"), files, partial(unformatted, ctx))
    except ToolFailure as exc:
        return failed(str(exc))
    new = lint + fmt
    details = {"new": [str(f) for f in new], "files": list(files)}
    if new:
        return failed(summary("style", new), **details)
    return passed(f"no new ruff findings in {len(files)} file(s)", **details)


def ruff_lint(
    ctx: GateContext, project: Path, files: Sequence[str], select: Sequence[str] = ()
) -> list[Finding]:
    """``ruff check`` findings of ``files`` (optionally only the ``select``-ed rules)."""
    args = [*RUFF_CHECK, *(a for rule in select for a in ("--select", rule)), "--", *files]
    report = json_output(run_tool(ctx, "ruff", args, project), "ruff check")
    if not isinstance(report, list):
        raise ToolFailure("ruff check printed JSON that is not a list of findings")
    return [_ruff_finding(project, item) for item in report if isinstance(item, dict)]


def _ruff_finding(project: Path, item: dict[str, Any]) -> Finding:
    location = item.get("location") or {}
    return Finding(
        file=project_path(project, str(item.get("filename", ""))),
        line=int(location.get("row") or 0),
        rule=str(item.get("code") or "syntax-error"),
        message=str(item.get("message", "")),
    )


def unformatted(ctx: GateContext, project: Path, files: Sequence[str]) -> list[Finding]:
    """A finding for each file ``ruff format --check`` would change or cannot format.

    One run per file: the exit code is the only output every ruff version agrees on.
    """
    found: list[Finding] = []
    for file in files:
        done = run_tool(ctx, "ruff", [*RUFF_FORMAT, "--", file], project, ok=(0, 1, 2))
        if done.returncode == 1:
            found.append(Finding(file, 0, "format", "would be reformatted by ruff format"))
        elif done.returncode == 2:
            found.append(Finding(file, 0, "format", "ruff format cannot format this file"))
    return found
