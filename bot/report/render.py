"""Tell the user what happened: a terminal table, the same facts as Markdown (report.md)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.core.evaluation import Evaluation
from bot.report.results import RunResult, timing_json


def duration(seconds: float) -> str:
    """A time in the unit that reads best (ns, µs, ms, s)."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def verdict(evaluation: Evaluation) -> str:
    stopped = evaluation.stopped_by
    if evaluation.accepted:
        return "accepted"
    return f"stopped at {stopped.gate}" if stopped else "incomplete"


def before_after(timing: dict[str, Any]) -> tuple[str, str, str]:
    """(before, after, speed-up) cells: medians with their spread (IQR), ratio with its CI."""
    if not timing.get("base_median_s"):
        return "-", "-", "-"
    before = _median_spread(timing["base_median_s"], timing.get("base_iqr_s", 0.0))
    after = _median_spread(timing["candidate_median_s"], timing.get("candidate_iqr_s", 0.0))
    ratio = (
        f"{timing.get('ratio', 0):.2f}x (CI {timing.get('ci_low', 0):.2f}-"
        f"{timing.get('ci_high', 0):.2f}, p={timing.get('p_value', 1):.1g})"
    )
    return before, after, ratio


def llm_line(result: RunResult) -> str | None:
    """What the language models did: the chain, calls, tokens, cost, and a budget stop."""
    llm = result.llm
    if not llm:
        return None
    line = (
        f"language models {llm['chain']}: {llm['calls']} call(s), "
        f"{llm['cached_replies']} from the prompt cache, "
        f"{llm.get('retries', 0)} retried, {llm.get('timeouts', 0)} timed out, "
        f"{llm['input_tokens'] + llm['output_tokens']} tokens, "
        f"estimated ${llm['estimated_cost_usd']:.4f}"
    )
    if llm.get("budget_stopped"):
        line += f"; the budget stopped generation: {llm['budget_stopped']}"
    return line


def github_lines(result: RunResult) -> list[str]:
    """The pull request (or why there is none) and the GitHub API use, for every report."""
    lines = []
    pull = result.pull_request
    if pull is not None:
        lines.append(f"pull request #{pull.number}{' (draft)' if pull.draft else ''}: {pull.url}")
    elif result.github_fallback:
        lines.append(f"no pull request: {result.github_fallback}")
    usage = result.github_usage
    if usage is not None:
        left = ", ".join(f"{n} {k}" for k, n in usage.remaining.items()) or "unknown"
        lines.append(
            f"GitHub API: {usage.requests} request(s), {usage.not_modified} answered 304 "
            f"(no quota), quota left: {left}"
        )
    return lines


def mutation_lines(evaluation: Evaluation) -> list[str]:
    """The mutation score before and after a candidate's new tests (chaos), if it has one."""
    provenance = evaluation.candidate.provenance
    if "mutation_score_before" not in provenance:
        return []
    return [
        "",
        f"Mutation score {provenance['mutation_score_before']} -> "
        f"**{provenance.get('mutation_score_after', '?')}** (mutants killed / tried); "
        f"the new tests kill: {provenance.get('killed_by_new_tests', '-')}.",
    ]


def trajectory_lines(result: RunResult) -> list[str]:
    """Actor-critic's reward round by round, one line per target it searched."""
    rounds: dict[str, list[str]] = {}
    for e in result.evaluations:
        reward = e.candidate.provenance.get("reward")
        if reward is not None:
            rounds.setdefault(e.candidate.target.key, []).append(reward)
    return [f"reward by round for {key}: {' -> '.join(r)}" for key, r in rounds.items()]


def _median_spread(median: float, iqr: float) -> str:
    return f"{duration(median)} ± {duration(iqr / 2)}"


def print_report(result: RunResult, console: Console) -> None:
    """The human summary printed at the end of ``selfimprove run``."""
    req = result.request
    console.print(
        f"[bold]selfimprove[/bold] {req.method} on {req.repo_root}"
        f"{'' if req.project == '.' else '/' + req.project} @ {req.base_commit[:12]}"
    )
    targets = Table(title=f"Targets found: {len(result.targets)}", title_justify="left")
    for column in ("target", "file", "time in suite", "recorded calls"):
        targets.add_column(column)
    for t in result.targets:
        targets.add_row(
            t.target.key,
            t.target.file,
            duration(t.target.cumulative_seconds) if t.target.cumulative_seconds else "-",
            f"{t.captured_calls} of {t.seen_calls}",
        )
    console.print(targets)
    made = Table(title=f"Candidates made: {len(result.evaluations)}", title_justify="left")
    for column in ("candidate", "rule", "verdict", "why"):
        made.add_column(column, overflow="fold")
    for e in result.evaluations:
        stopped = e.stopped_by
        why = stopped.reason if stopped else (e.result("performance") or e.results[-1]).reason
        made.add_row(e.candidate.target.key, e.candidate.rule, verdict(e), why)
    console.print(made)
    for line in trajectory_lines(result):
        console.print(escape(line))
    shipped = Table(title=f"Accepted changes: {len(result.delivered)}", title_justify="left")
    for column in ("change", "before (median ± IQR/2)", "after", "speed-up"):
        shipped.add_column(column, overflow="fold")
    for d in result.delivered:
        shipped.add_row(d.patch.name, *before_after(timing_json(d.evaluation)))
    console.print(shipped)
    models = llm_line(result)
    if models:
        console.print(escape(models))
    for line in github_lines(result):
        console.print(escape(line))
    for note in result.notes:
        console.print(f"note: {note}")
    where = result.bundle_dir if result.bundle_dir else "nothing written"
    console.print(f"Bundle: {where}   ({duration(result.seconds)} in all)")


def markdown(result: RunResult) -> str:
    """report.md: the same facts as the terminal table, plus each change's gate table."""
    req = result.request
    lines = [
        "# selfimprove run report",
        "",
        f"- repository: `{req.repo_root}`, project `{req.project}`",
        f"- base commit: `{req.base_commit}`",
        f"- method: {req.method}; run `{result.run_id}`; {duration(result.seconds)}",
        *([f"- {llm_line(result)}"] if result.llm else []),
        *[f"- {line}" for line in github_lines(result)],
        "",
        f"## Targets found: {len(result.targets)}",
        "",
        "| target | file | time in suite | recorded calls |",
        "|---|---|---|---|",
    ]
    for t in result.targets:
        spent = duration(t.target.cumulative_seconds) if t.target.cumulative_seconds else "-"
        lines.append(
            f"| `{t.target.key}` | `{t.target.file}` | {spent} | "
            f"{t.captured_calls} of {t.seen_calls} |"
        )
    lines += [
        "",
        f"## Candidates made: {len(result.evaluations)}",
        "",
        "| target | rule | verdict | why |",
        "|---|---|---|---|",
    ]
    for e in result.evaluations:
        stopped = e.stopped_by
        why = (stopped.reason if stopped else e.results[-1].reason).replace("|", "\\|")
        lines.append(f"| `{e.candidate.target.key}` | {e.candidate.rule} | {verdict(e)} | {why} |")
    trajectories = trajectory_lines(result)
    if trajectories:
        lines += ["", *trajectories]
    lines += ["", f"## Accepted changes: {len(result.delivered)}", ""]
    for d in result.delivered:
        before, after, ratio = before_after(timing_json(d.evaluation))
        lines += [
            f"### `{d.patch.name}`",
            "",
            d.evaluation.candidate.description,
            "",
            f"Before {before}, after {after}: **{ratio}**.",
            *mutation_lines(d.evaluation),
            "",
            f"sha256 `{d.patch_sha256}`, IPFS CID `{d.patch_cid}`, "
            + (f"signature `{d.signature.name}`." if d.signature else "not signed."),
            "",
            "| gate | verdict | time | reason |",
            "|---|---|---|---|",
        ]
        for r in d.evaluation.results:
            reason = r.reason.replace("|", "\\|")
            ok = "pass" if r.passed else "fail"
            lines.append(f"| {r.gate} | {ok} | {duration(r.seconds)} | {reason} |")
        lines += [
            "",
            f"Apply: `git apply {d.patch.name}` (or `git am`); undo: "
            f"`git apply {d.reverse_patch.name}`.",
            "",
        ]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    return "\n".join(lines) + "\n"
