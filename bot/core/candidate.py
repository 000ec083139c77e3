"""A Candidate: one proposed change, as a unified diff against the base commit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """A function of the project worth improving, found by profiling or named by the user.

    ``file`` is relative to the project folder; ``module`` is the dotted import name and
    ``qualname`` the function's qualified name inside it (``Class.method`` for methods).
    """

    file: str
    module: str
    qualname: str
    line: int = 0
    cumulative_seconds: float = 0.0
    own_seconds: float = 0.0
    calls: int = 0
    profile_share: float | None = None  # inclusive share of the profiled suite time, 0..1

    @property
    def key(self) -> str:
        return f"{self.module}:{self.qualname}"

    @property
    def slug(self) -> str:
        return f"{self.module.rsplit('.', 1)[-1]}-{self.qualname}".replace(".", "-").replace(
            "_", "-"
        )


@dataclass(frozen=True)
class Candidate:
    """A diff (paths relative to the repository root) plus where it came from."""

    target: Target
    diff: str
    files: tuple[str, ...]
    method: str
    generator: str
    rule: str
    description: str
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def diff_sha256(self) -> str:
        return hashlib.sha256(self.diff.encode()).hexdigest()

    @property
    def id(self) -> str:
        return f"{self.target.slug}-{self.rule}-{self.diff_sha256[:8]}"
