"""The Request: everything a run needs to know, built once at the edge and never changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.core.llm.settings import LLMSettings


@dataclass(frozen=True)
class TargetSpec:
    """A target named by the user: a file relative to the project, optionally one function."""

    path: str
    function: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.function}" if self.function else self.path


@dataclass(frozen=True)
class Thresholds:
    """When the performance gate calls a change a real speed-up."""

    min_speedup: float = 1.05
    min_speedup_fast_call: float = 1.10
    fast_call_seconds: float = 10e-6
    p_value: float = 0.01
    float_rel_tol: float = 1e-9
    float_abs_tol: float = 1e-12
    rounds: int = 20
    sample_seconds: float = 0.01


@dataclass(frozen=True)
class Limits:
    """Time and size limits that keep a run bounded."""

    test_timeout: float = 600.0
    tool_timeout: float = 300.0
    replay_timeout: float = 120.0
    max_targets: int = 10
    max_captured_calls: int = 50
    max_diff_lines: int = 200
    max_mutants: int = 30  # per target, for the chaos method
    max_processes: int = 4096  # per sandboxed call (RLIMIT_NPROC, or a pids cgroup as root)
    max_memory_mb: int = 8192  # address space of each sandboxed process (RLIMIT_AS)
    max_file_mb: int = 1024  # largest file a sandboxed process may write (RLIMIT_FSIZE)


GROUPINGS = ("run", "target", "file")
PR_CREATION = ("immediate", "approval")


@dataclass(frozen=True)
class NoiseControl:
    """How many pull requests reach the maintainers, which ones, and when."""

    max_open_prs: int = 3  # open bot PRs at which new changes wait on the dashboard
    max_prs_per_day: int | None = None  # PRs opened per UTC day; None: no daily cap
    min_impact: float = 0.005  # expected whole-program gain a PR needs (share of profile)
    group: str = "run"  # one PR per run, per target function, or per file
    dashboard: bool = True  # keep the "selfimprove dashboard" issue
    pr_creation: str = "immediate"  # or "approval": nothing opens until its box is ticked
    force: bool = False  # propose again functions a merged selfimprove change wrote


@dataclass(frozen=True)
class Request:
    """What to improve, where, and within which limits.

    ``repo_root`` is the git top level; ``project`` is the project's folder relative to it
    ("." for a whole repository, "examples/demo" for a project inside a monorepo).
    """

    repo_root: Path
    project: str
    base_commit: str
    interpreter: str
    test_command: tuple[str, ...]
    output_dir: Path
    home: Path
    method: str = "test-driven"
    dry_run: bool = True
    include: tuple[str, ...] = ("**/*.py",)
    exclude: tuple[str, ...] = ()
    integration_command: tuple[str, ...] | None = None
    targets: tuple[TargetSpec, ...] = ()
    type_paths: tuple[str, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    limits: Limits = field(default_factory=Limits)
    signing_key: Path | None = None
    ipfs_api: str | None = None
    pinning_endpoint: str | None = None
    sigstore: bool = False  # also sign each patch keylessly (needs an ambient OIDC identity)
    warnings: tuple[str, ...] = ()
    llm: LLMSettings = field(default_factory=LLMSettings)
    adversarial_candidates: int = 4  # entrants per target in the adversarial tournament
    actor_critic_rounds: int = 3  # revisions per target in actor-critic
    github_repository: str | None = None  # owner/name: deliver a draft PR there (not dry runs)
    github_api_url: str | None = None  # default: GITHUB_API_URL or https://api.github.com
    push_remote: str | None = None  # git remote name or URL for the PR branch (default origin)
    rate_reserve: int = 100  # GitHub requests kept back; below it the bundle is the delivery
    noise: NoiseControl = field(default_factory=NoiseControl)
    sandbox: bool = True  # confine project and candidate code (False: --no-sandbox)
    pass_env: tuple[str, ...] = ()  # extra variable names the project's code may see

    def project_path(self, root: Path) -> Path:
        """The project's folder inside a checkout rooted at ``root`` (a worktree or the repo)."""
        return root if self.project == "." else root / self.project

    def repo_relative(self, project_relative: str) -> str:
        """A project-relative path as a path relative to the repository root (POSIX)."""
        return project_relative if self.project == "." else f"{self.project}/{project_relative}"
