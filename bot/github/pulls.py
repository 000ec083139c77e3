"""What the bot's pull request is called and says: branch name, title, body, marker.

Pure text from the run's facts. The branch name is deterministic per (project, target
set, method, base commit), so a re-run finds and updates its own pull request instead of
opening another; the hidden marker at the top of the body tells the bot's pull requests
from everyone else's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core import sandbox
from bot.core.request import Request
from bot.report.render import before_after, duration
from bot.report.results import Delivered, RunResult, changes_code, timing_json

BRANCH_PREFIX = "selfimprove/"
LABEL = "selfimprove"
MARKER = "<!-- selfimprove:v1"
MAX_BODY = 60_000  # GitHub refuses bodies over 65,536 characters
MAX_REASON = 160
SANDBOX_OFF = (
    "**The sandbox was off** (--no-sandbox or `sandbox = false`): the project's and the "
    "candidates' code ran unconfined while these changes were proven. Review them with that "
    "in mind."
)
DRAFTS_UNAVAILABLE = "Draft pull requests are not available in this repository"
_SLUG_PART = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class LeftOut:
    """An accepted change kept out of the pull request, and why (it stays in the bundle)."""

    change: Delivered
    reason: str


def branch_name(request: Request) -> str:
    """``selfimprove/<slug>-<hash8>`` for this project, target set, method and base commit."""
    targets = sorted(str(t) for t in request.targets)
    identity = "\n".join([request.project, request.method, request.base_commit, *targets])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    project = "" if request.project == "." else request.project.rsplit("/", 1)[-1]
    if len(targets) == 1:
        what = targets[0].rsplit("/", 1)[-1].replace(".py", "")
    else:
        what = f"{len(targets)}-targets" if targets else "hot-spots"
    slug = _slug(f"{project}-{what}")[:40].strip("-") or "run"
    return f"{BRANCH_PREFIX}{slug}-{digest}"


def says_drafts_unavailable(body: str) -> bool:
    """Whether an earlier body told readers that drafts were not available."""
    return DRAFTS_UNAVAILABLE in body


def is_ours(body: str | None) -> bool:
    """Whether a pull request body carries the bot's marker."""
    return bool(body) and MARKER in (body or "")


def title(changes: Sequence[Delivered]) -> str:
    """One line: the single change, or how many and where."""
    if len(changes) == 1 and not changes_code(changes[0].evaluation):
        return f"test: pin the behaviour of {changes[0].evaluation.candidate.target.key}"
    if len(changes) == 1:
        candidate = changes[0].evaluation.candidate
        ratio = timing_json(changes[0].evaluation).get("ratio")
        faster = f" ({ratio:.2f}x)" if isinstance(ratio, int | float) and ratio else ""
        return f"perf: faster {candidate.target.key}{faster}"
    modules = sorted({d.evaluation.candidate.target.module for d in changes})
    where = ", ".join(modules[:3]) + (" …" if len(modules) > 3 else "")
    return f"perf: {len(changes)} proven changes in {where}"


def body(
    request: Request,
    result: RunResult,
    changes: Sequence[Delivered],
    branch: str,
    *,
    left_out: Sequence[LeftOut] = (),
    draft_unavailable: bool = False,
    preface: Sequence[str] = (),
) -> str:
    """The pull request's Markdown: what, why, the proof, and how to check and undo it.

    ``preface`` (the impact lines and the changes' hidden markers) comes first.
    """
    marker = (
        f"{MARKER} branch={branch} base={request.base_commit} "
        f"method={request.method} project={request.project} -->"
    )
    where = "this repository" if request.project == "." else f"`{request.project}`"
    lines = [
        marker,
        *preface,
        *([""] if preface else []),
        f"**selfimprove** proposes {len(changes)} change(s) to {where}, each "
        f"proven by seven gates on base commit `{request.base_commit[:12]}` "
        f"(method {request.method}, run `{result.run_id}`).",
        "",
        "A person decides: the bot never merges and never pushes to the default branch. "
        "Re-running it updates this pull request.",
    ]
    if sandbox.label(request) == sandbox.OFF:
        lines += ["", f"> {SANDBOX_OFF}"]
    if draft_unavailable:
        lines += [
            "",
            f"> {DRAFTS_UNAVAILABLE}, so this one is open for review and labelled "
            f"`{LABEL}`. Treat it as a draft.",
        ]
    for change in changes:
        lines += ["", *_change_section(request, result, change)]
    if left_out:
        lines += ["", "### Not included", ""]
        lines += [
            f"- `{item.change.patch.name}`: {_cell(item.reason)} (it stays in the bundle)"
            for item in left_out
        ]
    lines += ["", *_verify_section(branch, changes)]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY] + "\n\n… (cut: the full report is `report.md` in the bundle)\n"
    return text


def _change_section(request: Request, result: RunResult, change: Delivered) -> list[str]:
    evaluation = change.evaluation
    candidate = evaluation.candidate
    before, after, ratio = before_after(timing_json(evaluation))
    pinned = next((t for t in result.targets if t.target.key == candidate.target.key), None)
    unit = evaluation.result("unit")
    lines = [
        f"### `{candidate.target.key}` ({candidate.rule})",
        "",
        f"{candidate.description}",
        "",
        f"File: `{request.repo_relative(candidate.target.file)}`. "
        f"Generator: {candidate.generator}.",
        "",
        f"Before {before}, after {after}: **{ratio}** (median ± IQR/2; speed-up with its "
        "95% bootstrap CI and the one-sided Mann-Whitney p-value).",
        "",
        "| gate | verdict | time | reason |",
        "|---|---|---|---|",
    ]
    for gate in evaluation.results:
        verdict = "pass" if gate.passed else "fail"
        lines.append(
            f"| {gate.gate} | {verdict} | {duration(gate.seconds)} | {_cell(gate.reason)} |"
        )
    lines += ["", "Tests that pin its behaviour:", ""]
    if pinned is not None:
        lines.append(
            f"- {pinned.captured_calls} recorded calls of `{candidate.target.key}` (arguments "
            "before and after, return value or exception), replayed on base and candidate "
            "with identical results"
        )
    if unit is not None:
        lines.append(f"- the project's own suite: {_cell(unit.reason)}")
    signature = f"signature `{change.signature.name}`" if change.signature else "not signed"
    lines += [
        "",
        f"Bundle: `{change.patch.name}`, sha256 `{change.patch_sha256}`, "
        f"IPFS CID `{change.patch_cid}`, {signature}.",
    ]
    return lines


def _verify_section(branch: str, changes: Sequence[Delivered]) -> list[str]:
    stem = changes[0].patch.name.removesuffix(".patch") if changes else "<id>"
    return [
        "### Check it and undo it locally",
        "",
        "```sh",
        f"git fetch origin {branch} && git switch --detach FETCH_HEAD",
        "python -m pytest -q          # your suite, on your machine",
        "git revert --no-edit HEAD    # undo the last change (one commit per change)",
        "```",
        "",
        "With the bundle (the run's artifact, or `selfimprove fetch <CID> --from <gateway>`): "
        f"`selfimprove verify {stem}.json --allowed-signers FILE --identity ID` checks its "
        "signatures, digests, CID and base commit; `selfimprove apply` and "
        "`selfimprove rollback` put it, or its reverse, on a new branch.",
    ]


def _cell(text: str) -> str:
    """``text`` on one line, safe inside a Markdown table cell, and short."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= MAX_REASON else flat[: MAX_REASON - 1] + "…"


def _slug(text: str) -> str:
    return _SLUG_PART.sub("-", text.lower()).strip("-")
