"""The Action's inputs: read from ``INPUT_*`` variables, overridden by an event, made a Request.

``action.yml`` hands every input to the step through ``env:`` (never interpolated into the
shell script), as ``INPUT_<NAME>`` with dashes as underscores; the runner's own spelling
for JavaScript actions (``INPUT_DRY-RUN``) is read too. A ``workflow_dispatch`` payload's
``inputs`` and an ``/improve`` command override the action's inputs for one run.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from bot.config import NOISE_KEYS, Flags, build_request, parse_target
from bot.core.errors import UserError
from bot.core.request import Request, TargetSpec
from bot.flow.targets import functions_in, is_candidate_file
from bot.github.commands import Command
from bot.shards.plan import shard_targets

FAIL_ON = ("error", "no-change", "fallback")
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off", "")
_DISPATCH_KEYS = ("targets", "method", "budget", "dry-run")

# Secret inputs and the variables the rest of the bot reads them from. The token goes to
# GITHUB_TOKEN, which an App's id and key outrank (bot/github/credentials.py): the input
# defaults to the workflow's token, and an App given beside it must still win.
SECRET_INPUTS = {
    "github-token": "GITHUB_TOKEN",
    "app-id": "SELFIMPROVE_APP_ID",
    "app-private-key": "SELFIMPROVE_APP_PRIVATE_KEY",
    "openai-api-key": "OPENAI_API_KEY",
    "anthropic-api-key": "ANTHROPIC_API_KEY",
    "pinning-token": "SELFIMPROVE_PINNING_TOKEN",
}


@dataclass(frozen=True)
class ActionInputs:
    """The inputs that shape a run (secrets are handed on by :func:`credentials`)."""

    path: str = "."
    targets: tuple[str, ...] = ()
    method: str | None = None
    budget: int | None = None
    dry_run: bool = False
    fail_on: frozenset[str] = frozenset({"error"})
    out: str | None = None
    interpreter: str | None = None
    test_command: str | None = None
    signing_key: str | None = None
    ipfs_api: str | None = None
    pinning_endpoint: str | None = None
    llm: str | None = None  # the model chain, e.g. "anthropic:<model>,codemods"
    sigstore: bool | None = None  # None: the project's config (or SELFIMPROVE_SIGSTORE) decides
    plan: str | None = None  # a `selfimprove plan` file (workspace-relative), with ``shard``
    shard: str | None = None  # "i/n": run only that shard of the plan
    allowed_bots: frozenset[str] = field(default_factory=frozenset)
    noise: Mapping[str, Any] = field(default_factory=dict)  # NOISE_KEYS given (typed)


def action_input(env: Mapping[str, str], name: str) -> str:
    """One input's value, stripped; ``""`` when not set."""
    upper = name.upper()
    for key in (f"INPUT_{upper.replace('-', '_')}", f"INPUT_{upper}"):
        if key in env:
            return env[key].strip()
    return ""


def read_inputs(env: Mapping[str, str]) -> ActionInputs:
    """The action's inputs from the step's environment, each checked with one sentence."""

    def text(name: str) -> str | None:
        return action_input(env, name) or None

    return ActionInputs(
        path=action_input(env, "path") or ".",
        targets=split_words(action_input(env, "targets")),
        method=text("method"),
        budget=parse_budget(action_input(env, "budget"), "the budget input"),
        dry_run=parse_bool(action_input(env, "dry-run"), "the dry-run input"),
        fail_on=parse_fail_on(action_input(env, "fail-on")),
        out=text("out"),
        interpreter=text("interpreter"),
        test_command=text("test-command"),
        signing_key=text("signing-key"),
        ipfs_api=text("ipfs-api"),
        pinning_endpoint=text("pinning-endpoint"),
        llm=text("llm-provider"),
        sigstore=(
            parse_bool(action_input(env, "sigstore"), "the sigstore input")
            if action_input(env, "sigstore")
            else None
        ),
        allowed_bots=frozenset(split_words(action_input(env, "allowed-bots"))),
        plan=text("plan"),
        shard=text("shard"),
        noise=noise_inputs(env),
    )


def noise_inputs(env: Mapping[str, str]) -> dict[str, Any]:
    """The noise-control inputs that are set, typed; unset ones leave the config to decide."""
    found: dict[str, Any] = {}
    for name in NOISE_KEYS:
        text = action_input(env, name)
        if not text:
            continue
        what = f"the {name} input"
        if name in ("max-open-prs", "max-prs-per-day"):
            if not re.fullmatch(r"[0-9]{1,9}", text):
                raise UserError(f"{what} must be a whole number, 0 or more, not {text!r}")
            found[name] = int(text)
        elif name == "min-impact":
            found[name] = parse_fraction(text, what)
        elif name == "dashboard":
            found[name] = parse_bool(text, what)
        else:
            found[name] = text
    return found


def parse_fraction(text: str, what: str) -> float:
    """``0.005`` or ``0.5%``: a fraction of the profiled time."""
    number = text.removesuffix("%").strip()
    try:
        value = float(number)
    except ValueError:
        raise UserError(f"{what} must be a fraction like 0.005 or 0.5%, not {text!r}") from None
    return value / 100 if text.endswith("%") else value


def with_dispatch(inputs: ActionInputs, payload_inputs: Any) -> ActionInputs:
    """A ``workflow_dispatch`` run: the form's inputs win over the action's inputs."""
    if payload_inputs is None:
        return inputs
    if not isinstance(payload_inputs, dict):
        raise UserError("the workflow_dispatch payload's inputs are not an object")
    given = {
        key: str(value).lower() if isinstance(value, bool) else str(value).strip()
        for key, value in payload_inputs.items()
        if key in _DISPATCH_KEYS and value is not None and str(value).strip() != ""
    }
    changes: dict[str, Any] = {}
    if "targets" in given:
        changes["targets"] = split_words(given["targets"])
    if "method" in given:
        changes["method"] = given["method"]
    if "budget" in given:
        changes["budget"] = parse_budget(given["budget"], "the dispatched budget")
    if "dry-run" in given:
        changes["dry_run"] = parse_bool(given["dry-run"], "the dispatched dry-run")
    return dataclasses.replace(inputs, **changes)


def with_command(inputs: ActionInputs, command: Command) -> ActionInputs:
    """An ``/improve`` run: the comment's paths, method and budget win; dry-run adds up."""
    return dataclasses.replace(
        inputs,
        targets=command.paths or inputs.targets,
        method=command.method or inputs.method,
        budget=command.budget or inputs.budget,
        dry_run=inputs.dry_run or command.dry_run,
    )


def credentials(env: Mapping[str, str]) -> dict[str, str]:
    """The secret inputs under the names the GitHub, LLM and IPFS clients read."""
    found = {}
    for name, variable in SECRET_INPUTS.items():
        value = action_input(env, name)
        if value:
            found[variable] = value
    return found


def build(inputs: ActionInputs, workspace: Path, key_dir: Path) -> Request:
    """The run's Request: inputs as flags on the project at ``workspace / path``.

    A target may be a folder: it stands for every Python file in it that the bot may
    change and that defines a function (in the base commit). ``key_dir`` receives the
    signing key when the input holds the key itself (a secret) rather than a path.
    """
    project = (workspace / inputs.path).resolve()
    if not project.is_relative_to(workspace.resolve()):
        raise UserError(f"the path input {inputs.path!r} leaves the workspace")
    if inputs.plan or inputs.shard:
        plan = str(workspace / inputs.plan) if inputs.plan else None
        planned = shard_targets(plan, inputs.shard, inputs.targets)
        if not planned:
            raise UserError(f"shard {inputs.shard} of the plan names no targets")
        inputs = dataclasses.replace(inputs, targets=planned)
    files = tuple(t for t in inputs.targets if _is_file_target(t))
    folders = tuple(t for t in inputs.targets if not _is_file_target(t))
    flags = Flags(
        path=str(project),
        dry_run=inputs.dry_run,
        targets=files,
        method=inputs.method,
        output_dir=inputs.out,
        interpreter=inputs.interpreter,
        test_command=inputs.test_command,
        max_targets=inputs.budget,
        signing_key=_signing_key_file(inputs.signing_key, key_dir),
        ipfs_api=inputs.ipfs_api,
        pinning_endpoint=inputs.pinning_endpoint,
        llm=inputs.llm,
        sigstore=inputs.sigstore,
        noise=inputs.noise,
    )
    request = build_request(flags)
    if not folders:
        return request
    named = tuple(parse_target(t) for t in files)
    return dataclasses.replace(request, targets=named + folder_targets(request, folders))


def folder_targets(request: Request, folders: tuple[str, ...]) -> tuple[TargetSpec, ...]:
    """Every changeable Python file with a function under ``folders``, at the base commit."""
    repo = git.Repo(request.repo_root)
    project_dir = request.project_path(request.repo_root)
    found: list[TargetSpec] = []
    prefix = "" if request.project == "." else request.project + "/"
    for folder in folders:
        where = folder.strip("/")
        if folder.startswith("/") or ".." in where.split("/"):
            raise UserError(f"the target folder {folder!r} is not inside the project")
        scope = f"{prefix}{where}" if where not in ("", ".") else request.project
        listed = repo.git.ls_tree("-r", "--name-only", request.base_commit, "--", scope)
        rels = sorted(p[len(prefix) :] for p in listed.splitlines() if p.startswith(prefix))
        chosen = [
            rel
            for rel in rels
            if is_candidate_file(request, project_dir, rel)
            and functions_in(repo.git.show(f"{request.base_commit}:{prefix}{rel}"))
        ]
        if not chosen:
            raise UserError(f"the folder {folder!r} holds no Python file the bot may improve")
        found.extend(TargetSpec(rel) for rel in chosen)
    return tuple(dict.fromkeys(found))


def split_words(text: str) -> tuple[str, ...]:
    """A list input: words separated by spaces, commas or newlines."""
    return tuple(word for word in re.split(r"[\s,]+", text) if word)


def parse_bool(text: str, what: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UserError(f"{what} must be true or false, not {text!r}")


def parse_budget(text: str, what: str) -> int | None:
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise UserError(f"{what} must be a positive whole number, not {text!r}")
    return int(text)


def parse_fail_on(text: str) -> frozenset[str]:
    """``fail-on``: when the step fails besides errors (``no-change``, ``fallback``)."""
    words = set(split_words(text)) or {"error"}
    unknown = sorted(words - set(FAIL_ON))
    if unknown:
        raise UserError(f"fail-on accepts {', '.join(FAIL_ON)}, not {', '.join(unknown)}")
    return frozenset(words | {"error"})


def _is_file_target(text: str) -> bool:
    return text.partition(":")[0].endswith(".py")


def _signing_key_file(value: str | None, key_dir: Path) -> str | None:
    """A path stays a path; a key's text (from a secret) goes to a private file."""
    if value is None or "PRIVATE KEY-----" not in value:
        return value
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = key_dir / "selfimprove_signing_key"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value.strip() + "\n")
    return str(path)
