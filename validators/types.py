"""Gate 4: mypy finds no new type error against the base.

mypy runs over whole packages, not just the changed files, because a changed signature
breaks its callers elsewhere. Base and candidate get the same argv and share a warm cache.
A new file (a new test, say) makes mypy follow its imports into files the base run never
checked; their errors are compared with the base's errors in those same files, so an old
error there is not the candidate's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from validators.context import GateContext, Verdict, failed, passed
from validators.findings import (
    Finding,
    ToolFailure,
    cached_base,
    new_findings,
    project_path,
    run_tool,
    summary,
)
from validators.paths import changed_python_files

NAME = "types"

_MESSAGE = re.compile(
    r"^(?P<file>[^:]+?)(?::(?P<line>\d+))?(?::\d+)*: (?P<severity>error|note|warning): "
    r"(?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$"
)


def check(ctx: GateContext) -> Verdict:
    """Fail on the first mypy error the candidate adds to the checked packages."""
    paths = type_paths(ctx)
    if not paths:
        return passed("no changed Python files to type-check")
    try:
        base = cached_base(ctx, (NAME, "mypy", *paths), lambda: _base_mypy(ctx, paths))
        try:
            candidate = mypy(ctx, ctx.candidate_project, paths)
        except ToolFailure as exc:
            raise ToolFailure(f"{exc} (on the candidate)") from None
        new = new_findings(base, candidate)
        reached = _reached(ctx, paths, new)
        if reached:
            wider = (*paths, *reached)
            base = cached_base(ctx, (NAME, "mypy", *wider), lambda: _base_mypy(ctx, wider))
            new = new_findings(base, candidate)
    except ToolFailure as exc:
        return failed(str(exc))
    details = {"paths": list(paths), "new": [str(f) for f in new]}
    if new:
        return failed(summary("mypy", new), **details)
    return passed(f"no new mypy errors in {', '.join(paths)}", **details)


def _reached(ctx: GateContext, paths: Sequence[str], new: Sequence[Finding]) -> tuple[str, ...]:
    """Files with new findings that lie outside ``paths``, that the candidate left alone and
    the base has: mypy reached them through an import only the candidate makes."""
    changed = set(changed_python_files(ctx))
    found = {
        f.file
        for f in new
        if f.file not in changed
        and not any(f.file == p or f.file.startswith(p.rstrip("/") + "/") for p in paths)
        and (ctx.base_project / f.file).is_file()
    }
    return tuple(sorted(found))


def type_paths(ctx: GateContext) -> tuple[str, ...]:
    """The configured type paths, else the top-level packages holding the changed files."""
    if ctx.request.type_paths:
        return tuple(ctx.request.type_paths)
    paths: list[str] = []
    for file in changed_python_files(ctx):
        top = top_level(ctx.candidate_project, file)
        if top not in paths:
            paths.append(top)
    return tuple(sorted(paths))


def top_level(project: Path, file: str) -> str:
    """``src/pkg/sub/mod.py`` -> ``src/pkg`` (outermost ``__init__.py`` folder), else the file."""
    parts = file.split("/")
    top = file
    for depth in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:depth])
        if not (project / folder / "__init__.py").is_file():
            break
        top = folder
    return top


def _base_mypy(ctx: GateContext, paths: Sequence[str]) -> list[Finding]:
    """The base's errors over the paths it has (a package the candidate adds is not there)."""
    present = [p for p in paths if (ctx.base_project / p).exists()]
    return mypy(ctx, ctx.base_project, present) if present else []


def _search_path(ctx: GateContext, project: Path) -> dict[str, str]:
    """``MYPYPATH``: the import roots the test run used (``src/``, ...), so mypy resolves
    the project's modules, from tests too, as the tests import them."""
    roots = [str(project / r) for r in ctx.baseline.import_roots if r != "."]
    return {"MYPYPATH": os.pathsep.join(roots)} if roots else {}


def mypy(ctx: GateContext, project: Path, paths: Sequence[str]) -> list[Finding]:
    """mypy's errors (not notes) over ``paths``; a missing path is mypy's usage error."""
    cache_dir = ctx.baseline.work_dir / "mypy-cache"
    args = [
        "--python-executable",
        ctx.request.interpreter,
        "--show-error-codes",
        "--no-error-summary",
        "--no-pretty",
        "--hide-error-context",
        "--no-color-output",
        "--cache-dir",
        str(cache_dir),
        "--",
        *paths,
    ]
    done = run_tool(
        ctx, "mypy", args, project, env=_search_path(ctx, project), writable=(cache_dir,)
    )
    errors: list[Finding] = []
    for line in done.stdout.splitlines():
        match = _MESSAGE.match(line.rstrip())
        if match and match["severity"] == "error":
            errors.append(
                Finding(
                    file=project_path(project, match["file"]),
                    line=int(match["line"] or 0),
                    rule=match["code"] or "error",
                    message=match["message"],
                )
            )
    if done.returncode == 1 and not errors:
        raise ToolFailure(f"mypy reported errors in a form I cannot read: {done.tail(1)}")
    return errors
