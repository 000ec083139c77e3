"""Build the Request once, at the edge: CLI flags plus ``[tool.selfimprove]`` in pyproject.toml.

Every user mistake here (a missing path, a folder outside git, an unknown config key, a
value of the wrong type) becomes a :class:`UserError` with one sentence naming it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import git

from bot.core import sandbox_probe, secrets
from bot.core.errors import UserError
from bot.core.llm.settings import LLMSettings
from bot.core.request import (
    GROUPINGS,
    PR_CREATION,
    Limits,
    NoiseControl,
    Request,
    TargetSpec,
    Thresholds,
)
from bot.llm_config import llm_settings
from bot.signing.sigstore_verify import expected_repository
from methods.registry import NAMES as METHOD_NAMES

DEFAULT_TEST_COMMAND = ("python", "-m", "pytest", "-q")
DEFAULT_EXCLUDE = (
    "tests/**",
    "**/tests/**",
    "test/**",
    "**/test_*.py",
    "test_*.py",
    "**/*_test.py",
    "**/conftest.py",
    "conftest.py",
    "setup.py",
    "docs/**",
)
T = TypeVar("T")
NOISE_KEYS = ("max-open-prs", "max-prs-per-day", "min-impact", "group", "dashboard", "pr-creation")
_TOP_KEYS = {
    "include",
    "exclude",
    "test-command",
    "interpreter",
    "integration-command",
    "targets",
    "type-paths",
    "output-dir",
    "method",
    "thresholds",
    "limits",
    "signing-key",
    "adversarial-candidates",
    "actor-critic-rounds",
    "llm",
    "sigstore",
    "repository",
    "push-remote",
    "rate-reserve",
    *NOISE_KEYS,
    "sandbox",
    "pass-env",
}


@dataclass(frozen=True)
class Flags:
    """What the command line said; ``None`` means "not given, use config or default"."""

    path: str
    dry_run: bool = True
    targets: tuple[str, ...] = ()
    method: str | None = None
    output_dir: str | None = None
    interpreter: str | None = None
    test_command: str | None = None
    max_targets: int | None = None
    signing_key: str | None = None
    ipfs_api: str | None = None
    pinning_endpoint: str | None = None
    llm: str | None = None
    sigstore: bool | None = None
    repository: str | None = None  # owner/name on GitHub
    push_remote: str | None = None
    force: bool = False  # propose again functions a merged selfimprove change wrote
    noise: Mapping[str, Any] = field(default_factory=dict)  # NOISE_KEYS given as action inputs
    sandbox: bool | None = None  # False: --no-sandbox
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkout:
    """Where the project sits: the repository, the project folder inside it, the base."""

    repo_root: Path
    project: str
    base_commit: str
    dirty: bool


def home_dir() -> Path:
    """The bot's own state folder (worktrees, ledger, default output)."""
    configured = os.environ.get("SELFIMPROVE_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser().resolve() / "selfimprove"


def default_signing_key() -> Path:
    """Where ``selfimprove keygen`` puts the key, and where a run looks for one."""
    return home_dir() / "signing" / "id_ed25519"


def signing_key(flag: str | None, configured: str | None, project_dir: Path) -> Path | None:
    """The key that signs bundles: flag, then env, then config, then the default if present."""
    chosen = flag or secrets.get("SELFIMPROVE_SIGNING_KEY")
    if chosen:
        path = Path(chosen).expanduser()
    elif configured:
        path = project_dir / Path(configured).expanduser()
    else:
        path = default_signing_key()
        return path if path.is_file() else None
    if not path.is_file():
        raise UserError(f"signing key not found: {path}")
    return path.resolve()


def locate(path: str) -> Checkout:
    """Find the git repository holding ``path`` and the project folder inside it."""
    where = Path(path).expanduser()
    if not where.exists():
        raise UserError(f"path does not exist: {path}")
    if not where.is_dir():
        raise UserError(f"path is not a folder: {path}")
    where = where.resolve()
    try:
        repo = git.Repo(where, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UserError(f"not a git repository: {path}") from None
    if repo.bare or repo.working_tree_dir is None:
        raise UserError(f"not a git working tree: {path}")
    root = Path(repo.working_tree_dir).resolve()
    try:
        head = repo.head.commit.hexsha
    except ValueError:
        raise UserError(f"the repository at {root} has no commits yet") from None
    project = where.relative_to(root).as_posix() or "."
    pathspec = [] if project == "." else [project]
    dirty = bool(repo.git.status("--porcelain", "--untracked-files=no", "--", *pathspec).strip())
    return Checkout(root, project, head, dirty)


def read_config(project_dir: Path) -> dict[str, Any]:
    """The ``[tool.selfimprove]`` table of the project's pyproject.toml, checked for typos."""
    pyproject = project_dir / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    try:
        data = tomllib.loads(pyproject.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {pyproject}: {exc}") from None
    table = data.get("tool", {}).get("selfimprove", {})
    if not isinstance(table, dict):
        raise UserError(f"[tool.selfimprove] in {pyproject} must be a table")
    for key in table:
        if key not in _TOP_KEYS:
            raise UserError(f"unknown key {key!r} in [tool.selfimprove] of {pyproject}")
    return table


def build_request(flags: Flags) -> Request:
    """Combine flags, project config and defaults into the run's immutable Request."""
    checkout = locate(flags.path)
    project_dir = (
        checkout.repo_root if checkout.project == "." else checkout.repo_root / checkout.project
    )
    config = read_config(project_dir)
    where = f"[tool.selfimprove] of {project_dir / 'pyproject.toml'}"
    method = flags.method or _string(config, "method", where) or "test-driven"
    if method not in METHOD_NAMES:
        raise UserError(f"unknown method {method!r}; available: {', '.join(METHOD_NAMES)}")
    test_command = (
        _command(flags.test_command, config, "test-command", where) or DEFAULT_TEST_COMMAND
    )
    interpreter = flags.interpreter or _string(config, "interpreter", where) or _default_python()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    home = home_dir()
    out = flags.output_dir or _string(config, "output-dir", where)
    output_dir = (
        (project_dir / out if flags.output_dir is None else Path(out).expanduser()).resolve()
        / run_id
        if out
        else home / "runs" / run_id
    )
    limits = _dataclass_table(Limits, config.get("limits", {}), f"{where}.limits")
    if flags.max_targets is not None:
        if flags.max_targets < 1:
            raise UserError("--max-targets must be at least 1")
        limits = dataclasses.replace(limits, max_targets=flags.max_targets)
    target_texts = flags.targets or tuple(_strings(config, "targets", where))
    llm = llm_settings(flags.llm, config.get("llm"), where)
    wanted = sandbox_wanted(flags.sandbox, config.get("sandbox"), where)
    return Request(
        repo_root=checkout.repo_root,
        project=checkout.project,
        base_commit=checkout.base_commit,
        interpreter=_resolve_interpreter(interpreter),
        test_command=test_command,
        output_dir=output_dir,
        home=home,
        method=method,
        adversarial_candidates=_count(config, "adversarial-candidates", where, 4),
        actor_critic_rounds=_count(config, "actor-critic-rounds", where, 3),
        dry_run=flags.dry_run,
        include=tuple(_strings(config, "include", where)) or ("**/*.py",),
        exclude=DEFAULT_EXCLUDE + tuple(_strings(config, "exclude", where)),
        integration_command=_command(None, config, "integration-command", where),
        targets=tuple(parse_target(t) for t in target_texts),
        type_paths=tuple(_strings(config, "type-paths", where)),
        thresholds=_dataclass_table(
            Thresholds, config.get("thresholds", {}), f"{where}.thresholds"
        ),
        limits=limits,
        ipfs_api=flags.ipfs_api or os.environ.get("SELFIMPROVE_IPFS_API") or None,
        pinning_endpoint=(
            flags.pinning_endpoint or os.environ.get("SELFIMPROVE_PINNING_ENDPOINT") or None
        ),
        signing_key=signing_key(
            flags.signing_key, _string(config, "signing-key", where), project_dir
        ),
        sigstore=sigstore_wanted(flags.sigstore, config.get("sigstore"), where),
        llm=llm,
        **github_settings(flags, config, where),
        noise=noise_control(flags, config, where),
        sandbox=wanted,
        pass_env=pass_env(config, where),
        warnings=(
            (
                (
                    f"uncommitted changes in {flags.path} are not included: "
                    f"the run uses the last commit, {checkout.base_commit[:12]}",
                )
                if checkout.dirty
                else ()
            )
            + sandbox_warnings(wanted, llm)
        ),
    )


def request_at(flags: Flags) -> Callable[[str, str, tuple[str, ...], Path], Request]:
    """The Request of a command that starts from bundles (``merge``, ``deliver``).

    The project folder and base commit come from the bundles, the targets from what they
    hold; everything else (config, signing, GitHub) from ``flags`` as for a run.
    """
    root = locate(flags.path).repo_root

    def make(project: str, base_commit: str, specs: tuple[str, ...], out: Path) -> Request:
        try:
            git.Repo(root).git.cat_file("-e", f"{base_commit}^{{commit}}")
        except git.GitCommandError:
            raise UserError(
                f"the bundles' base commit {base_commit[:12]} is not in {root}"
            ) from None
        project_dir = root if project == "." else root / project
        request = build_request(dataclasses.replace(flags, path=str(project_dir), targets=specs))
        return dataclasses.replace(request, base_commit=base_commit, output_dir=out, warnings=())

    return make


def parse_target(text: str) -> TargetSpec:
    """``path.py`` or ``path.py:function`` (``Class.method`` allowed)."""
    path, _, function = text.partition(":")
    if not path.endswith(".py"):
        raise UserError(f"a target must name a .py file, optionally with :function, not {text!r}")
    return TargetSpec(path.strip(), function.strip() or None)


def _default_python() -> str:
    return shutil.which("python") or shutil.which("python3") or sys.executable


def _resolve_interpreter(interpreter: str) -> str:
    found = shutil.which(interpreter)
    if found is None:
        raise UserError(f"interpreter not found: {interpreter}")
    return found


def sandbox_wanted(flag: bool | None, configured: Any, where: str) -> bool:
    """``--no-sandbox``, then ``sandbox = true|false`` in the config; on by default."""
    if flag is not None:
        return flag
    if configured is None:
        return True
    if not isinstance(configured, bool):
        raise UserError(f"'sandbox' in {where} must be true or false")
    return configured


def pass_env(config: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """``pass-env``: variable names the project's code may see; a secret-looking one is refused."""
    names = tuple(_strings(config, "pass-env", where))
    for name in names:
        if secrets.is_secret(name):
            raise UserError(
                f"'pass-env' in {where} names {name}, which looks like a secret; "
                "secrets never reach project or candidate code"
            )
    return names


def sandbox_warnings(wanted: bool, llm: LLMSettings) -> tuple[str, ...]:
    """Refuse model-written candidates without a sandbox; say so when the sandbox is off."""
    if not wanted:
        return (
            "the sandbox is off (--no-sandbox or sandbox = false): project and candidate code "
            "ran unconfined, with the bot's user rights",
        )
    found = sandbox_probe.probe()
    if found.available:
        return ()
    if llm.chain:
        raise UserError(
            f"model-written candidates need a sandbox and none can be made here: {found.reason}; "
            f"{sandbox_probe.HOW_TO_GET_ONE}, or pass --no-sandbox"
        )
    return (f"no sandbox ({found.reason}): codemod candidates run unconfined",)


def sigstore_wanted(flag: bool | None, configured: Any, where: str) -> bool:
    """Sign keylessly too? The flag, then ``SELFIMPROVE_SIGSTORE``, then ``sigstore`` in config."""
    if configured is not None and not isinstance(configured, bool):
        raise UserError(f"'sigstore' in {where} must be true or false")
    env = os.environ.get("SELFIMPROVE_SIGSTORE", "").strip().lower()
    if env and env not in {"1", "true", "yes", "0", "false", "no"}:
        raise UserError(f"SELFIMPROVE_SIGSTORE must be 1/true/yes or 0/false/no, not {env!r}")
    if flag is not None:
        return flag
    return env in {"1", "true", "yes"} if env else bool(configured)


def sigstore_repository(flag: str | None, path: str) -> str | None:
    """Where a sigstore bundle checked at ``path`` must come from, or None if nothing pins it.

    The flag, ``SELFIMPROVE_SIGSTORE_REPOSITORY``, ``repository`` in the project's config,
    then ``GITHUB_REPOSITORY`` inside GitHub Actions (see
    :func:`bot.signing.sigstore_verify.expected_repository`).
    """
    checkout = locate(path)
    project_dir = checkout.repo_root / checkout.project
    where = f"[tool.selfimprove] of {project_dir / 'pyproject.toml'}"
    chosen = expected_repository(flag, _string(read_config(project_dir), "repository", where))
    return _repository(chosen)


def _repository(name: str | None) -> str | None:
    if name is not None and not re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        raise UserError(f"a GitHub repository is owner/name, not {name!r}")
    return name


def github_settings(flags: Flags, config: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Where a non-dry run opens its pull request: flag, config, then Actions' environment."""
    repository = (
        flags.repository
        or _string(config, "repository", where)
        or os.environ.get("GITHUB_REPOSITORY")
        or None
    )
    _repository(repository)
    reserve = config.get("rate-reserve", 100)
    if not isinstance(reserve, int) or isinstance(reserve, bool) or reserve < 0:
        raise UserError(f"'rate-reserve' in {where} must be a whole number of requests, 0 or more")
    return {
        "github_repository": repository,
        "github_api_url": os.environ.get("GITHUB_API_URL") or None,
        "push_remote": flags.push_remote or _string(config, "push-remote", where),
        "rate_reserve": reserve,
    }


def noise_control(flags: Flags, config: Mapping[str, Any], where: str) -> NoiseControl:
    """Caps, impact floor, grouping, dashboard and approval: inputs over config over defaults."""
    given = {**{k: config[k] for k in NOISE_KEYS if k in config}, **flags.noise}
    default = NoiseControl()
    open_cap = given.get("max-open-prs", default.max_open_prs)
    daily = given.get("max-prs-per-day", default.max_prs_per_day)
    for key, value in (("max-open-prs", open_cap), ("max-prs-per-day", daily)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise UserError(f"{key!r} in {where} must be a whole number, 0 or more")
    floor = given.get("min-impact", default.min_impact)
    if isinstance(floor, bool) or not isinstance(floor, int | float) or not 0 <= floor <= 1:
        raise UserError(f"'min-impact' in {where} must be a fraction from 0 to 1 (0.005 is 0.5%)")
    group = given.get("group", default.group)
    if group not in GROUPINGS:
        raise UserError(f"'group' in {where} must be one of {', '.join(GROUPINGS)}")
    creation = given.get("pr-creation", default.pr_creation)
    if creation not in PR_CREATION:
        raise UserError(f"'pr-creation' in {where} must be one of {', '.join(PR_CREATION)}")
    dashboard = given.get("dashboard", default.dashboard)
    if not isinstance(dashboard, bool):
        raise UserError(f"'dashboard' in {where} must be true or false")
    return NoiseControl(
        max_open_prs=open_cap,
        max_prs_per_day=daily,
        min_impact=float(floor),
        group=group,
        dashboard=dashboard,
        pr_creation=creation,
        force=flags.force,
    )


def _count(config: Mapping[str, Any], key: str, where: str, default: int) -> int:
    """A positive whole number from the config (a method's knob), or ``default``."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{key!r} in {where} must be a whole number of at least 1")
    return value


def _string(config: Mapping[str, Any], key: str, where: str) -> str | None:
    value = config.get(key)
    if value is not None and not isinstance(value, str):
        raise UserError(f"{key!r} in {where} must be a string")
    return value


def _strings(config: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = config.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{key!r} in {where} must be a list of strings")
    return value


def _command(
    flag: str | None, config: Mapping[str, Any], key: str, where: str
) -> tuple[str, ...] | None:
    value: Any = flag if flag is not None else config.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        parts = shlex.split(value)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = list(value)
    else:
        raise UserError(f"{key!r} in {where} must be a string or a list of strings")
    if not parts:
        raise UserError(f"{key!r} in {where} is empty")
    return tuple(parts)


def _dataclass_table(kind: type[T], table: Any, where: str) -> T:
    """Fill a frozen dataclass from a TOML table with kebab-case keys, checking names/types."""
    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table")
    fields = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise UserError(f"unknown key {key!r} in {where}")
        default = getattr(kind(), name)
        if (
            isinstance(default, bool)
            or not isinstance(value, int | float)
            or isinstance(value, bool)
        ):
            raise UserError(f"{key!r} in {where} must be a number")
        if value <= 0:
            raise UserError(f"{key!r} in {where} must be positive")
        values[name] = type(default)(value)
    return kind(**values)
