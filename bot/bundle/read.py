"""Reading a bundle: the one place, with :mod:`bot.bundle.write`, that knows its file names.

A change in a bundle folder is ``<id>.json`` (metadata) beside ``<id>.patch``,
``<id>.reverse.patch`` and their signatures; every command that takes a bundle
(verify, apply, rollback, pin, merge, deliver) finds and reads it here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.candidate import Candidate, Target
from bot.core.errors import UserError
from bot.core.evaluation import Evaluation, GateResult
from bot.report.results import Delivered

# What follows ``<id>`` in the name of each file of a change, longest first.
SUFFIXES = (
    ".reverse.patch",
    ".patch.sig",
    ".json.sig",
    ".json.sigstore.json",
    ".sigstore.json",
    ".patch",
    ".json",
)


@dataclass(frozen=True)
class Change:
    """The files of one change in a bundle folder."""

    metadata: Path
    patch: Path
    reverse_patch: Path
    facts: dict[str, Any]

    @property
    def id(self) -> str:
        return self.metadata.name.removesuffix(".json")


def locate_change(path: str) -> Change:
    """A change named by its ``.json``, ``.patch`` or ``.reverse.patch``, or a folder of one."""
    where = Path(path).expanduser()
    if where.is_dir():
        found = sorted(p for p in where.glob("*.json") if p.with_suffix(".patch").exists())
        if not found:
            raise UserError(f"no bundle (a <id>.json beside a <id>.patch) in {path}")
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise UserError(f"{path} holds {len(found)} changes; name one of: {names}")
        metadata = found[0]
    else:
        name = where.name
        for suffix in SUFFIXES:
            if name.endswith(suffix):
                name = name.removesuffix(suffix)
                break
        metadata = where.with_name(f"{name}.json")
    if not metadata.is_file():
        raise UserError(f"bundle metadata not found: {metadata}")
    try:
        facts = json.loads(metadata.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read bundle metadata {metadata}: {exc}") from None
    if not isinstance(facts, dict) or "patch" not in facts or "base_commit" not in facts:
        raise UserError(f"{metadata} is not selfimprove bundle metadata")
    patch = metadata.with_name(file_name(metadata, facts, "patch"))
    reverse = metadata.with_name(file_name(metadata, facts, "reverse_patch"))
    return Change(metadata, patch, reverse, facts)


def file_name(metadata: Path, facts: dict[str, Any], field: str) -> str:
    """A file the metadata names beside itself: a plain name, never a path."""
    name = facts.get(field)
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or ".." in name:
        raise UserError(
            f"{metadata.name} names its {field.replace('_', ' ')} {name!r}: it must be a file "
            "name in the bundle's folder, without '/' or '..'"
        )
    return name


@dataclass(frozen=True)
class BundledChange:
    """A change read back from a bundle as a candidate, with the facts a merge needs."""

    candidate: Candidate
    speedup: float  # 0.0 for a change with nothing to time (tests only)
    base_commit: str
    project: str
    metadata: Path
    evaluation: Evaluation  # the gate verdicts as the run recorded them
    facts: dict[str, Any]

    def delivered(self) -> Delivered:
        """The change as the delivery step takes it: its evaluation and bundle files."""
        facts = self.facts
        signature = self.metadata.with_name(str(facts["patch"]) + ".sig")
        return Delivered(
            self.evaluation,
            self.metadata.with_name(str(facts["patch"])),
            self.metadata.with_name(str(facts["reverse_patch"])),
            self.metadata,
            str(facts["patch_sha256"]),
            str(facts["patch_cid"]),
            signature if signature.is_file() else None,
        )


def find_changes(folders: list[Path]) -> list[BundledChange]:
    """Every change in the folders (searched recursively), checked against its metadata."""
    found: list[BundledChange] = []
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"not a bundle folder: {folder}")
        for metadata in sorted(folder.rglob("*.json")):
            if metadata.with_suffix(".patch").is_file():
                found.append(read_change(metadata))
    return found


def same_base(changes: list[BundledChange]) -> tuple[str, str]:
    """The one base commit and project of all changes; refuse a mix."""
    bases = {c.base_commit for c in changes}
    if len(bases) > 1:
        named = ", ".join(
            f"{base[:12]} ({next(c.metadata.name for c in changes if c.base_commit == base)})"
            for base in sorted(bases)
        )
        raise UserError(
            f"the bundles come from different base commits ({named}): "
            "only shards of one plan, run on one commit, can be merged"
        )
    projects = {c.project for c in changes}
    if len(projects) > 1:
        raise UserError(f"the bundles come from different projects: {', '.join(sorted(projects))}")
    return bases.pop(), projects.pop()


def files_of(metadata: Path) -> list[Path]:
    """Every file of the change ``metadata`` names: patches, signatures, pin record."""
    stem = metadata.name.removesuffix(".json")
    return sorted(metadata.parent.glob(f"{stem}.*"))


def read_change(metadata: Path) -> BundledChange:
    """The change that ``metadata`` describes, its patch checked against both digests."""
    try:
        facts: dict[str, Any] = json.loads(metadata.read_text())
        patch = metadata.with_name(file_name(metadata, facts, "patch")).read_bytes()
        file_name(metadata, facts, "reverse_patch")  # named again when it is delivered
        module, qualname = str(facts["target"]).split(":", 1)
        project = str(facts["project"])
        repo_file = str(facts["file"])
        method, generator, rule = (str(facts[k]) for k in ("method", "generator", "rule"))
        description = str(facts.get("description", ""))
        timing = dict(facts.get("timing") or {})
        speedup = float(timing.get("ratio", 0.0))
        base_commit = str(facts["base_commit"])
        gates = tuple(
            GateResult(
                str(g["gate"]),
                bool(g["passed"]),
                float(g["seconds"]),
                str(g["reason"]),
                timing if g["gate"] == "performance" else {},
            )
            for g in facts["gates"]
        )
        provenance = {str(k): str(v) for k, v in dict(facts.get("provenance") or {}).items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{metadata} is not readable bundle metadata: {exc}") from None
    if hashlib.sha256(patch).hexdigest() != facts.get("patch_sha256"):
        raise UserError(f"{metadata.name}: the patch does not match its sha256 in the metadata")
    diff = diff_of(patch.decode())
    if hashlib.sha256(diff.encode()).hexdigest() != facts.get("diff_sha256"):
        raise UserError(f"{metadata.name}: the diff in the patch does not match its metadata")
    prefix = "" if project == "." else f"{project}/"
    target = Target(file=repo_file.removeprefix(prefix), module=module, qualname=qualname)
    candidate = Candidate(
        target=target,
        diff=diff,
        files=tuple(str(f) for f in facts.get("files", [repo_file])),
        method=method,
        generator=generator,
        rule=rule,
        description=description,
        provenance=provenance,
    )
    evaluation = Evaluation(candidate, gates, len(gates))
    return BundledChange(candidate, speedup, base_commit, project, metadata, evaluation, facts)


def diff_of(patch: str) -> str:
    """The diff inside a ``git format-patch`` style message written by :mod:`bot.bundle.write`."""
    start = patch.find("diff --git ")
    end = patch.rfind("\n-- \n")
    if start < 0 or end < start:
        return ""
    return patch[start : end + 1]
