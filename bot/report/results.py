"""What a run found and decided: the facts every report (table, JSON, Markdown) is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.candidate import Target
from bot.core.evaluation import Evaluation
from bot.core.request import Request


@dataclass(frozen=True)
class PullRef:
    """An open pull request as the bot needs it."""

    number: int
    url: str
    draft: bool
    head: str
    title: str = ""
    body: str = ""
    state: str = "open"  # or "closed"
    labels: tuple[str, ...] = ()
    merged: bool = False
    created_at: str = ""  # ISO 8601, as GitHub gives it


@dataclass(frozen=True)
class Usage:
    """What the report says about GitHub: requests made, 304s served, quota left."""

    requests: int
    not_modified: int
    remaining: dict[str, int]


@dataclass(frozen=True)
class TargetReport:
    """A target and how many calls to it the suite recorded (its behaviour pins).

    ``kind`` is how it is bound ("plain", "method", "static", "class"); for a method,
    ``rebuilt_receivers`` counts the recorded calls a test can make on a rebuilt receiver
    (None when no method of the run tried to rebuild them).
    """

    target: Target
    captured_calls: int
    seen_calls: int
    kind: str = "plain"
    rebuilt_receivers: int | None = None


@dataclass(frozen=True)
class Delivered:
    """An accepted change as shipped: the bundle files written for it."""

    evaluation: Evaluation
    patch: Path
    reverse_patch: Path
    metadata: Path
    patch_sha256: str
    patch_cid: str
    signature: Path | None = None


@dataclass
class RunResult:
    """Everything a run produced, in the order the flow produced it."""

    run_id: str
    request: Request
    targets: list[TargetReport] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bundle_dir: Path | None = None
    seconds: float = 0.0
    subprocess_seconds: dict[str, float] = field(default_factory=dict)
    llm: dict[str, Any] = field(default_factory=dict)  # chain, spending, budget stop
    pull_request: PullRef | None = None  # the draft PR opened or updated on GitHub
    github_usage: Usage | None = None  # REST requests made, 304s served, quota left
    github_fallback: str | None = None  # why the bundle, not a PR, is the delivery

    @property
    def accepted(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.accepted]

    def to_json(self) -> dict[str, Any]:
        """The run as one JSON-ready document (the ``--json`` output)."""
        return {
            "run_id": self.run_id,
            "repository": str(self.request.repo_root),
            "project": self.request.project,
            "base_commit": self.request.base_commit,
            "method": self.request.method,
            "targets": [
                {
                    "target": t.target.key,
                    "file": t.target.file,
                    "cumulative_seconds": t.target.cumulative_seconds,
                    "captured_calls": t.captured_calls,
                    "seen_calls": t.seen_calls,
                    "kind": t.kind,
                    "rebuilt_receivers": t.rebuilt_receivers,
                }
                for t in self.targets
            ],
            "candidates": [evaluation_json(e) for e in self.evaluations],
            "accepted": [
                {
                    "id": d.evaluation.candidate.id,
                    "target": d.evaluation.candidate.target.key,
                    "rule": d.evaluation.candidate.rule,
                    "patch": str(d.patch),
                    "reverse_patch": str(d.reverse_patch),
                    "metadata": str(d.metadata),
                    "patch_sha256": d.patch_sha256,
                    "patch_cid": d.patch_cid,
                    "signature": str(d.signature) if d.signature else None,
                    "timing": timing_json(d.evaluation),
                }
                for d in self.delivered
            ],
            "bundle_dir": str(self.bundle_dir) if self.bundle_dir else None,
            "notes": self.notes,
            "llm": self.llm or None,
            "pull_request": (
                {
                    "number": self.pull_request.number,
                    "url": self.pull_request.url,
                    "draft": self.pull_request.draft,
                    "branch": self.pull_request.head,
                }
                if self.pull_request
                else None
            ),
            "github_usage": (
                {
                    "requests": self.github_usage.requests,
                    "not_modified": self.github_usage.not_modified,
                    "remaining": dict(self.github_usage.remaining),
                }
                if self.github_usage
                else None
            ),
            "github_fallback": self.github_fallback,
            "seconds": round(self.seconds, 3),
            "subprocess_seconds": {k: round(v, 3) for k, v in self.subprocess_seconds.items()},
        }


def timing_json(evaluation: Evaluation) -> dict[str, Any]:
    """Before/after numbers from the performance gate, if it ran."""
    perf = evaluation.result("performance")
    return dict(perf.details) if perf else {}


def changes_code(evaluation: Evaluation) -> bool:
    """False for a change the performance gate found nothing to time in (tests only)."""
    return timing_json(evaluation).get("applicable", True) is not False


def evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    """One candidate's provenance and every gate verdict it collected."""
    candidate = evaluation.candidate
    stopped = evaluation.stopped_by
    return {
        "id": candidate.id,
        "target": candidate.target.key,
        "method": candidate.method,
        "generator": candidate.generator,
        "rule": candidate.rule,
        "description": candidate.description,
        "diff_sha256": candidate.diff_sha256,
        "provenance": dict(candidate.provenance),
        "accepted": evaluation.accepted,
        "stopped_by": stopped.gate if stopped else None,
        "reason": stopped.reason if stopped else None,
        "gates": [
            {"gate": r.gate, "passed": r.passed, "seconds": round(r.seconds, 3), "reason": r.reason}
            for r in evaluation.results
        ],
    }
