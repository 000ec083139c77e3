"""The Action's inputs become a Request: spellings, overrides, folders, a key from a secret."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.action_inputs import (
    ActionInputs,
    build,
    credentials,
    read_inputs,
    with_command,
    with_dispatch,
)
from bot.core.errors import UserError
from bot.core.request import TargetSpec
from bot.github.commands import Command, parse_comment

FILES = {
    "proj/pkg/__init__.py": "",
    "proj/pkg/fast.py": "def one():\n    return 1\n",
    "proj/pkg/sub/deep.py": "class A:\n    def m(self):\n        return 2\n",
    "proj/pkg/constants.py": "X = 1\n",
    "proj/pkg/test_fast.py": "from pkg.fast import one\n\n\ndef test_one():\n    assert one()\n",
    "proj/docs/conf.py": "def setup(app):\n    pass\n",
    "other/elsewhere.py": "def f():\n    return 0\n",
}


def test_both_spellings_of_an_input_are_read() -> None:
    assert read_inputs({"INPUT_DRY_RUN": "true"}).dry_run is True
    assert read_inputs({"INPUT_DRY-RUN": "yes"}).dry_run is True
    assert read_inputs({}) == ActionInputs()
    read = read_inputs({"INPUT_TARGETS": "a.py, b.py:f\n  c ", "INPUT_FAIL_ON": "no-change"})
    assert read.targets == ("a.py", "b.py:f", "c")
    assert read.fail_on == {"error", "no-change"}
    with pytest.raises(UserError, match="dry-run input must be true or false, not 'maybe'"):
        read_inputs({"INPUT_DRY_RUN": "maybe"})


def test_the_token_input_never_outranks_an_app() -> None:
    found = credentials({"INPUT_GITHUB_TOKEN": "ghs_x", "INPUT_APP_ID": "7", "INPUT_OUT": "o"})
    assert found == {"GITHUB_TOKEN": "ghs_x", "SELFIMPROVE_APP_ID": "7"}
    keys = credentials({"INPUT_OPENAI_API_KEY": "sk-1", "INPUT_LLM_PROVIDER": "codemods"})
    assert keys == {"OPENAI_API_KEY": "sk-1"}  # the chain is a setting, not a secret


def test_dispatch_and_comment_override_in_their_own_ways() -> None:
    base = ActionInputs(targets=("a.py",), method="test-driven", budget=3, dry_run=True)
    dispatched = with_dispatch(base, {"targets": "b.py c.py", "dry-run": False, "budget": ""})
    assert (dispatched.targets, dispatched.dry_run, dispatched.budget) == (
        ("b.py", "c.py"),
        False,
        3,
    )
    assert with_dispatch(base, None) == base
    with pytest.raises(UserError, match="dispatched budget"):
        with_dispatch(base, {"budget": "0"})
    command = parse_comment("/improve --method chaos --budget 5")
    assert isinstance(command, Command)
    commanded = with_command(base, command)
    assert commanded.targets == ("a.py",)  # no paths named: the inputs' targets
    assert (commanded.method, commanded.budget, commanded.dry_run) == ("chaos", 5, True)
    plain = parse_comment("/improve src/x.py")
    assert isinstance(plain, Command)
    assert with_command(base, plain).method == "test-driven"  # no method named: the input's


def test_a_folder_target_is_every_file_the_bot_may_change_in_it(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    workspace = make_repo(FILES)
    inputs = ActionInputs(path="proj", targets=("pkg", "pkg/fast.py:one"), budget=2)
    request = build(inputs, workspace, tmp_path / "keys")
    assert request.project == "proj"
    assert request.limits.max_targets == 2
    assert request.targets == (
        TargetSpec("pkg/fast.py", "one"),
        TargetSpec("pkg/fast.py"),
        TargetSpec("pkg/sub/deep.py"),
    )
    chain = "openai:gpt-4o-mini,codemods"
    chained = build(ActionInputs(path="proj", llm=chain), workspace, tmp_path / "keys")
    assert chained.llm.configured and len(chained.llm.chain) == 1
    assert not build(ActionInputs(path="proj"), workspace, tmp_path / "keys").llm.configured
    with pytest.raises(UserError):
        build(ActionInputs(path="proj", llm="no-such-provider:x"), workspace, tmp_path / "keys")
    with pytest.raises(UserError, match="the folder 'docs' holds no Python file"):
        build(ActionInputs(path="proj", targets=("docs",)), workspace, tmp_path / "keys")
    with pytest.raises(UserError, match="not inside the project"):
        build(ActionInputs(path="proj", targets=("../other",)), workspace, tmp_path / "keys")


def test_a_signing_key_given_as_text_is_written_privately(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    workspace = make_repo(FILES)
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----"
    request = build(ActionInputs(path="proj", signing_key=key), workspace, tmp_path / "keys")
    assert request.signing_key is not None
    assert request.signing_key.parent == (tmp_path / "keys").resolve()
    assert request.signing_key.read_text() == key + "\n"
    assert stat.S_IMODE(request.signing_key.stat().st_mode) == 0o600
    with pytest.raises(UserError, match="signing key not found"):
        build(ActionInputs(path="proj", signing_key="no/such/key"), workspace, tmp_path / "k2")


def test_the_sigstore_input_switches_keyless_signing_and_empty_leaves_it_to_config(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SELFIMPROVE_SIGSTORE", raising=False)
    workspace = make_repo(FILES)
    assert read_inputs({"INPUT_SIGSTORE": "true"}).sigstore is True
    assert read_inputs({"INPUT_SIGSTORE": ""}).sigstore is None
    with pytest.raises(UserError, match="sigstore input must be true or false"):
        read_inputs({"INPUT_SIGSTORE": "sometimes"})
    signed = build(
        read_inputs({"INPUT_PATH": "proj", "INPUT_SIGSTORE": "true"}), workspace, tmp_path
    )
    assert signed.sigstore is True
    unsaid = build(read_inputs({"INPUT_PATH": "proj"}), workspace, tmp_path / "k")
    assert unsaid.sigstore is False


def test_a_shard_input_runs_only_that_shard_of_the_plan(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    workspace = make_repo(FILES)
    shards = [("1/2", ["pkg/fast.py:one"]), ("2/2", ["pkg/sub/deep.py:A.m"])]
    plan = {"include": [{"shard": s, "targets": t} for s, t in shards]}
    (workspace / "plan.json").write_text(json.dumps(plan))
    env = {"INPUT_PATH": "proj", "INPUT_PLAN": "plan.json", "INPUT_SHARD": "2/2"}
    request = build(read_inputs(env), workspace, tmp_path)
    assert request.targets == (TargetSpec("pkg/sub/deep.py", "A.m"),)
    with pytest.raises(UserError, match="--plan and --shard go together"):
        build(read_inputs({"INPUT_PATH": "proj", "INPUT_SHARD": "1/2"}), workspace, tmp_path)
    with pytest.raises(UserError, match="cannot read the plan"):
        build(read_inputs({**env, "INPUT_PLAN": "missing.json"}), workspace, tmp_path)
