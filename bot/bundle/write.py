"""The dry-run delivery: a patch bundle on disk for each accepted change.

For a change ``<id>`` the bundle holds ``<id>.patch`` (``git format-patch`` style, so
both ``git apply`` and ``git am`` take it on the base commit), ``<id>.reverse.patch``
(undoes it) and ``<id>.json`` (base commit, provenance, every gate's verdict and time,
timings with spread, sha256 and IPFS CID of both patches). Every file is written
atomically.

With a signing key, the patch and the metadata are each signed on their own
(``<id>.patch.sig``, ``<id>.json.sig``, SSH signatures in git's format), so a maintainer
can check either file with stock ``ssh-keygen -Y verify``; the metadata names the patch's
digest and CID, so its signature covers those too.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from unidiff.patch import PatchSet

from bot.core import atomic, sandbox
from bot.core.diffs import reverse_diff
from bot.core.evaluation import Evaluation
from bot.core.request import Request
from bot.ipfs.cid import cid_of_bytes
from bot.report.results import Delivered, changes_code, evaluation_json, timing_json
from bot.signing import ssh as signing

AUTHOR = "selfimprove <selfimprove@users.noreply.github.com>"
VERSION = "0.1.0"


def format_patch(diff: str, subject: str, body: str, when: datetime) -> str:
    """An mbox message in ``git format-patch`` layout around a unified diff."""
    stat = _diffstat(diff)
    return (
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        f"From: {AUTHOR}\n"
        f"Date: {format_datetime(when)}\n"
        f"Subject: [PATCH] {subject}\n"
        "\n"
        f"{body.rstrip()}\n"
        "---\n"
        f"{stat}\n"
        f"{diff}"
        "-- \n"
        f"selfimprove {VERSION}\n"
        "\n"
    )


def _diffstat(diff: str) -> str:
    patch = PatchSet(diff)
    width = max((len(p.path) for p in patch), default=0)
    lines = [f" {p.path:<{width}} | {p.added + p.removed:>3} " for p in patch]
    added, removed = sum(p.added for p in patch), sum(p.removed for p in patch)
    files = len(patch)
    lines.append(
        f" {files} file{'s' if files != 1 else ''} changed, "
        f"{added} insertion{'s' if added != 1 else ''}(+), "
        f"{removed} deletion{'s' if removed != 1 else ''}(-)\n"
    )
    return "\n".join(lines)


def _subject(evaluation: Evaluation) -> str:
    candidate = evaluation.candidate
    kind = "perf" if changes_code(evaluation) else "test"
    return f"{kind}({candidate.target.module}): {candidate.target.qualname} via {candidate.rule}"


def _body(request: Request, evaluation: Evaluation) -> str:
    candidate = evaluation.candidate
    perf = timing_json(evaluation)
    lines = [candidate.description, ""]
    if not changes_code(evaluation):
        lines.append("No project code changes: nothing to time; the new tests pass on the base.")
    elif perf:
        lines.append(
            f"Measured on the calls recorded while the test suite ran: "
            f"{perf.get('ratio', 0):.2f}x faster "
            f"(95% CI {perf.get('ci_low', 0):.2f}-{perf.get('ci_high', 0):.2f}x, "
            f"p={perf.get('p_value', 1):.1g}, {perf.get('calls', 0)} calls, "
            f"timed {perf.get('timing_method', 'in-process')})."
        )
    lines.append("Gates: " + ", ".join(f"{r.gate} ok" for r in evaluation.results) + ".")
    lines += [
        "",
        f"Target: {candidate.target.key} ({request.repo_relative(candidate.target.file)})",
        f"Method: {candidate.method}; generator: {candidate.generator}; rule: {candidate.rule}",
        f"Base commit: {request.base_commit}",
        f"Undo with the reverse patch: git apply {candidate.id}.reverse.patch",
    ]
    return "\n".join(lines)


def write_change(request: Request, evaluation: Evaluation, folder: Path) -> Delivered:
    """Write the patch, the reverse patch and the metadata of one accepted change."""
    candidate = evaluation.candidate
    now = datetime.now(UTC).replace(microsecond=0)
    subject = _subject(evaluation)
    patch_text = format_patch(candidate.diff, subject, _body(request, evaluation), now)
    reverse_text = format_patch(
        reverse_diff(candidate.diff),
        f"Revert {subject}",
        f"Undo {candidate.id}: restores {candidate.target.key} to base {request.base_commit}.",
        now,
    )
    patch = atomic.write_text(folder / f"{candidate.id}.patch", patch_text)
    reverse = atomic.write_text(folder / f"{candidate.id}.reverse.patch", reverse_text)
    sha = hashlib.sha256(patch_text.encode()).hexdigest()
    key = request.signing_key
    metadata = {
        **evaluation_json(evaluation),
        "project": request.project,
        "base_commit": request.base_commit,
        "file": request.repo_relative(candidate.target.file),
        "files": list(candidate.files),
        "created": now.isoformat(),
        "patch": patch.name,
        "patch_sha256": sha,
        "patch_cid": cid_of_bytes(patch_text.encode()),
        "reverse_patch": reverse.name,
        "reverse_patch_sha256": hashlib.sha256(reverse_text.encode()).hexdigest(),
        "reverse_patch_cid": cid_of_bytes(reverse_text.encode()),
        "signature": _signature_facts(key, patch) if key else None,
        "timing": timing_json(evaluation),
        # the run that made it: `selfimprove deliver` rebuilds the same branch name from it
        "run": {"method": request.method, "targets": [str(t) for t in request.targets]},
        "sandbox": sandbox.label(request),
    }
    meta_text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    meta = atomic.write_text(folder / f"{candidate.id}.json", meta_text)
    signature = None
    if key is not None:
        signature = atomic.write_text(
            patch.with_name(patch.name + ".sig"), signing.sign(patch_text.encode(), key)
        )
        atomic.write_text(meta.with_name(meta.name + ".sig"), signing.sign(meta_text.encode(), key))
    return Delivered(evaluation, patch, reverse, meta, sha, metadata["patch_cid"], signature)


def _signature_facts(key: Path, patch: Path) -> dict[str, str]:
    """What the metadata says about the signatures written next to it."""
    return {
        "format": "sshsig",
        "namespace": signing.NAMESPACE,
        "key_fingerprint": signing.key_fingerprint(key),
        "patch_signature": patch.name + ".sig",
        "metadata_signature": patch.with_suffix(".json").name + ".sig",
    }
