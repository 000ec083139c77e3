"""Gate 3: the diff stays inside policy and adds no security finding (ruff S, bandit).

The policy check comes first because it is cheap and because a diff that writes outside
its target, into CI workflows, into ``.git`` or into a file some tool runs must never
reach a tool or a reviewer. The policy is an allowlist (:mod:`bot.core.path_policy`):
a candidate edits its target file(s); a method that writes tests may add new ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from bot.core.diffs import changed_line_count
from bot.core.path_policy import candidate_allowance, candidate_breach, is_test_path
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
from validators.style import ruff_lint

NAME = "security"

# assert is how tests check things; flagging it there would reject every new test.
_ASSERT_RULES = frozenset({"S101", "B101"})


def check(ctx: GateContext) -> Verdict:
    """Fail on the first policy breach, else on the first new ruff-S or bandit finding."""
    breach = policy_breach(ctx)
    if breach:
        return failed(f"diff policy: {breach}")
    files = changed_python_files(ctx)
    if not files:
        return passed("diff within policy; no changed Python files to scan")
    try:
        ruff_new = compare_files(ctx, (NAME, "ruff-S"), files, partial(ruff_security, ctx))
        bandit_new = compare_files(ctx, (NAME, "bandit"), files, partial(bandit, ctx))
    except ToolFailure as exc:
        return failed(str(exc))
    new = ruff_new + bandit_new
    details = {"ruff": [str(f) for f in ruff_new], "bandit": [str(f) for f in bandit_new]}
    if new:
        return failed(summary("security", new), **details)
    return passed(f"diff within policy; no new security findings in {len(files)} file(s)")


def policy_breach(ctx: GateContext) -> str | None:
    """Why the diff breaks policy, or None: the path allowlist, then its size."""
    diff = ctx.candidate.diff
    allowance = candidate_allowance(ctx.request, ctx.baseline, ctx.candidate)
    breach = candidate_breach(diff, ctx.request.project, allowance)
    if breach:
        return breach
    size = changed_line_count(diff)
    limit = ctx.request.limits.max_diff_lines
    if size > limit:
        return f"{size} changed lines exceed the limit of {limit}"
    return None


def ruff_security(ctx: GateContext, project: Path, files: Sequence[str]) -> list[Finding]:
    """ruff's bandit-derived ``S`` rules, with the project's per-file ignores."""
    return [f for f in ruff_lint(ctx, project, files, select=("S",)) if not _test_assert(f)]


def bandit(ctx: GateContext, project: Path, files: Sequence[str]) -> list[Finding]:
    """bandit findings keyed by the flagged line's text, since their line numbers move."""
    config = ["-c", "pyproject.toml"] if _has_bandit_config(project) else []
    done = run_tool(ctx, "bandit", ["-f", "json", "-q", *config, "--", *files], project)
    report = json_output(done, "bandit")
    if not isinstance(report, dict):
        raise ToolFailure("bandit printed JSON that is not a report")
    found: list[Finding] = []
    for item in report.get("results") or []:
        if not isinstance(item, dict):
            continue
        file = project_path(project, str(item.get("filename", "")))
        line = int(item.get("line_number") or 0)
        finding = Finding(
            file,
            line,
            str(item.get("test_id", "B???")),
            str(item.get("issue_text", "")),
            source=_source_line(project / file, line),
        )
        if not _test_assert(finding):
            found.append(finding)
    for error in report.get("errors") or []:
        if not isinstance(error, dict):
            continue
        file = project_path(project, str(error.get("filename", "")))
        found.append(Finding(file, 0, "bandit-error", str(error.get("reason", "scan failed"))))
    return found


def _has_bandit_config(project: Path) -> bool:
    try:
        text = (project / "pyproject.toml").read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return "[tool.bandit" in text


def _source_line(path: Path, line: int) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _test_assert(finding: Finding) -> bool:
    return finding.rule in _ASSERT_RULES and is_test_path(finding.file)
