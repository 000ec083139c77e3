"""action.yml, the workflows and the Dockerfile keep the properties that make them safe.

Parsed as YAML (PyYAML) and checked for what matters: no expression interpolated into a
shell script, a per-repository concurrency group, least privilege, no trigger that runs
a fork's code with secrets, the base repository's checkout, every input reaching the
script, every output mapped, CI running the README's test command, a non-root image.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.action import outputs

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted(
    (ROOT / "examples" / "workflows").glob("*.yml")
)
EXAMPLES = sorted((ROOT / "examples" / "workflows").glob("*.yml"))
UNTRUSTED_IN_RUN = re.compile(r"\$\{\{[^}]*\b(inputs|github\.event|github\.head_ref)\b")
WRITE_SCOPES = {"contents", "pull-requests", "issues", "id-token"}
TWO_JOBS = ROOT / "examples" / "workflows" / "selfimprove-two-jobs.yml"


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    found = workflow.get("on", workflow.get(True))
    if isinstance(found, str):
        return {found: None}
    if isinstance(found, list):
        return dict.fromkeys(found)
    assert isinstance(found, dict)
    return found


def steps(document: dict[Any, Any]) -> list[dict[str, Any]]:
    if "runs" in document:
        return list(document["runs"]["steps"])
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def test_there_is_something_to_check() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "selfimprove.yml", "selfimprove-comments.yml"} <= names
    assert (ROOT / "action.yml").is_file() and (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("path", [ROOT / "action.yml", *WORKFLOWS], ids=lambda p: p.name)
def test_no_expression_inside_a_shell_script(path: Path) -> None:
    for step in steps(load(path)):
        script = step.get("run")
        if script is None:
            continue
        assert not UNTRUSTED_IN_RUN.search(script), f"{path.name}: {script!r}"
        assert "${{" not in script, f"{path.name}: pass values through env:, not {script!r}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_trigger_that_hands_secrets_to_a_fork(path: Path) -> None:
    on = triggers(load(path))
    assert "pull_request_target" not in on
    assert "workflow_run" not in on
    code = [line.split("#")[0] for line in path.read_text().splitlines()]
    for dangerous in ("pull_request.head", "refs/pull/", "github.head_ref"):
        assert not any(dangerous in line for line in code), f"{path.name} uses {dangerous}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_one_run_per_repository(path: Path) -> None:
    workflow = load(path)
    permissions = workflow.get("permissions")
    assert isinstance(permissions, dict), f"{path.name} must declare its permissions"
    granted = {scope for scope, level in permissions.items() if level == "write"}
    assert granted <= WRITE_SCOPES, f"{path.name} asks for {granted - WRITE_SCOPES}"
    group = str(workflow.get("concurrency", {}).get("group", ""))
    assert "github.repository" in group, f"{path.name} needs a per-repository concurrency group"
    for step in steps(workflow):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, path.name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_share_one_group_and_check_out_the_default_branch(path: Path) -> None:
    workflow = load(path)
    assert workflow["concurrency"] == {
        "group": "selfimprove-${{ github.repository }}",
        "cancel-in-progress": False,
    }
    checkouts = [s for s in steps(workflow) if str(s.get("uses", "")).startswith("actions/ch")]
    assert checkouts
    for checkout in checkouts:
        assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    if path.name == TWO_JOBS.name:  # per-job permissions and the CLI: its own test below
        return
    assert set(permissions := workflow["permissions"]) == WRITE_SCOPES, permissions
    assert any(str(s.get("uses", "")).endswith("/selfimprove@v1") for s in steps(workflow))


def test_the_example_triggers_are_the_events_the_action_handles() -> None:
    scheduled = triggers(load(ROOT / "examples" / "workflows" / "selfimprove.yml"))
    assert set(scheduled) == {"schedule", "workflow_dispatch", "repository_dispatch"}
    assert scheduled["repository_dispatch"] == {"types": ["selfimprove-run"]}
    comments = triggers(load(ROOT / "examples" / "workflows" / "selfimprove-comments.yml"))
    assert comments == {"issue_comment": {"types": ["created"]}}


def test_action_is_composite_and_every_input_reaches_the_script() -> None:
    action = load(ROOT / "action.yml")
    assert action["runs"]["using"] == "composite"
    run_step = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    env = run_step["env"]
    for name in action["inputs"]:
        if name == "bot-python":
            continue
        variable = "INPUT_" + name.upper().replace("-", "_")
        assert env.get(variable) == f"${{{{ inputs.{name} }}}}", name
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash"  # present on every runner OS


def test_action_outputs_are_the_ones_the_entry_point_writes() -> None:
    action = load(ROOT / "action.yml")
    assert set(action["outputs"]) == set(outputs(None))
    for name, output in action["outputs"].items():
        assert output["value"] == f"${{{{ steps.run.outputs.{name} }}}}"


def test_ci_runs_the_readme_test_command_exactly() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    command = next(line.split("  #")[0].strip() for line in readme if "-m pytest" in line)
    assert command.endswith("python -m pytest -q"), command
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    scripts = [s.get("run", "").strip() for s in ci["jobs"]["test"]["steps"]]
    assert command in scripts
    for ci_step in steps(ci):  # CI never depends on building the image
        assert "docker" not in f"{ci_step.get('run', '')} {ci_step.get('uses', '')}".lower()


def test_dockerfile_runs_selfimprove_as_a_non_root_user() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[0].startswith("FROM python:") and "slim" in lines[0]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert not any(line.startswith("RUN ") for line in lines[last_user:]), "RUN after USER"
    assert 'ENTRYPOINT ["selfimprove"]' in lines
    assert any(re.match(r"RUN pip install (--no-cache-dir )?\.$", line) for line in lines)


def test_the_sharded_example_fans_out_over_the_plans_matrix() -> None:
    workflow = load(ROOT / "examples" / "workflows" / "selfimprove-sharded.yml")
    jobs = workflow["jobs"]
    assert jobs["plan"]["outputs"]["matrix"] == "${{ steps.plan.outputs.matrix }}"
    shard = jobs["shard"]
    assert shard["needs"] == "plan"
    assert shard["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    action = next(s for s in shard["steps"] if str(s.get("uses", "")).endswith("/selfimprove@v1"))
    assert action["with"]["shard"] == "${{ matrix.shard }}"
    assert str(action["with"]["dry-run"]).lower() == "true"  # only the merge job delivers
    inputs = load(ROOT / "action.yml")["inputs"]
    assert set(action["with"]) <= set(inputs)
    assert jobs["merge"]["needs"] == "shard"
    scripts = " ".join(s.get("run", "") for s in jobs["merge"]["steps"])
    assert 'selfimprove" merge shards' in scripts


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_the_two_job_example_keeps_candidate_code_and_secrets_apart() -> None:
    workflow = load(TWO_JOBS)
    assert workflow["permissions"] == {}  # nothing granted beyond what each job asks
    prove, deliver = workflow["jobs"]["prove"], workflow["jobs"]["deliver"]

    # prove: reads, signs as the workflow, holds no secret and no token that can write
    assert prove["permissions"] == {"contents": "read", "id-token": "write"}
    assert "secrets." not in yaml.safe_dump(prove) and "github.token" not in yaml.safe_dump(prove)
    assert "apt-get install -y --no-install-recommends bubblewrap" in scripts(prove)
    assert "apparmor_restrict_unprivileged_userns=0" in scripts(prove)
    run = scripts(prove)
    assert 'env -u GITHUB_REPOSITORY "$RUNNER_TEMP/selfimprove/bin/selfimprove" run .' in run
    assert "--sigstore" in run and "--dry-run" not in run  # a dry run never signs
    (upload,) = [s for s in prove["steps"] if str(s.get("uses", "")).startswith("actions/up")]

    # deliver: may push and open the PR; installs only selfimprove; runs no project code
    assert deliver["needs"] == "prove"
    assert deliver["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert "pip install -e" not in scripts(deliver) and "pytest" not in scripts(deliver)
    assert not any(str(s.get("uses", "")).endswith("/selfimprove@v1") for s in deliver["steps"])
    (download,) = [s for s in deliver["steps"] if str(s.get("uses", "")).startswith("actions/do")]
    assert download["with"] == {"name": upload["with"]["name"], "path": upload["with"]["path"]}
    (step,) = [s for s in deliver["steps"] if 'selfimprove" deliver' in str(s.get("run", ""))]
    command = " ".join(step["run"].replace("\\\n", " ").split())
    assert command == (
        '"$RUNNER_TEMP/selfimprove/bin/selfimprove" deliver "$RUNNER_TEMP/bundle" --repo . '
        '--repository "$GITHUB_REPOSITORY" --sigstore-repository "$GITHUB_REPOSITORY"'
    )
    assert step["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert deliver["if"] == "needs.prove.outputs.changes != '0'"
    assert prove["outputs"]["changes"] == "${{ steps.run.outputs.changes }}"


def test_the_example_s_commands_exist_with_those_flags() -> None:
    from bot.cli import _parser

    parsed = _parser().parse_args(
        ["deliver", "DIR", "--repo", ".", "--repository", "o/r", "--sigstore-repository", "o/r"]
    )
    run = _parser().parse_args(["run", ".", "--sigstore", "--out", "OUT"])
    assert (run.command, run.sigstore, run.out, run.dry_run) == ("run", True, "OUT", False)
    assert (parsed.command, parsed.repository, parsed.sigstore_repository) == (
        "deliver",
        "o/r",
        "o/r",
    )
