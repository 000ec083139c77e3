"""Where no sandbox can be made: codemods still run, model chains are refused, and a run
with --no-sandbox says so in the bundle metadata, the ledger and the pull request body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core import sandbox
from bot.core.ledger_file import read
from bot.github import pulls
from bot.github.delivery import deliver_pull_request
from tests.conftest import commit_files, run_cli
from tests.github.accepted import make_project, membership, run_result
from tests.github.rest_standin import GitHubStandIn
from tests.github.test_delivery import client

NO_BWRAP = {"SELFIMPROVE_BWRAP": "/nonexistent/bwrap"}
SOURCE = 'def is_vowel(c):\n    return c in ["a", "e", "i", "o", "u"]\n'
TESTS = (
    "from vowels import is_vowel\n\n\ndef test_vowels():\n"
    "    assert [is_vowel(c) for c in 'abe'] == [True, False, True]\n"
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fallback") / "repo"
    commit_files(
        root,
        {
            "vowels.py": SOURCE,
            "tests/test_vowels.py": TESTS,
            "pyproject.toml": "[tool.selfimprove.thresholds]\nrounds = 6\n",
        },
    )
    return root


def test_doctor_names_the_missing_sandbox(tmp_path: Path) -> None:
    done = run_cli("doctor", cwd=tmp_path, env=NO_BWRAP)
    assert done.returncode == 0
    assert done.stdout.splitlines()[:2] == [
        "sandbox: none",
        "why: bwrap is not installed (apt-get install bubblewrap)",
    ]
    found = run_cli("doctor", cwd=tmp_path)
    assert found.returncode == 0 and found.stdout.startswith("sandbox: bubblewrap")


def test_a_model_chain_is_refused_without_a_sandbox(repo: Path, tmp_path: Path) -> None:
    args = ("run", "--dry-run", str(repo), "--llm", "openai-compatible:some-model")
    done = run_cli(*args, cwd=tmp_path, home=tmp_path / "home", env=NO_BWRAP)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "model-written candidates need a sandbox" in lines[0]
    assert "apt-get install bubblewrap" in lines[0] and "--no-sandbox" in lines[0]
    assert not (tmp_path / "home" / "runs").exists()


def test_codemod_candidates_still_run_without_a_sandbox(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = ("run", "--dry-run", str(repo), "--target", "vowels.py:is_vowel", "--json")
    done = run_cli(*args, cwd=tmp_path, home=home, env=NO_BWRAP)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert any("no sandbox (bwrap is not installed" in note for note in result["notes"])
    candidates = result["candidates"]
    assert candidates and {c["generator"] for c in candidates} == {"codemods"}
    assert all(c["gates"][0]["passed"] for c in candidates), candidates
    ledger = read(Path(result["bundle_dir"]) / "ledger.jsonl")
    assert ledger and {entry["sandbox"] for entry in ledger} == {sandbox.UNAVAILABLE}


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as server:
        yield server


def test_with_no_sandbox_the_metadata_and_the_pr_body_say_so(
    tmp_path: Path, gh: GitHubStandIn
) -> None:
    project = make_project(tmp_path)
    gh.add_repo("octo/demo", remote=project.remote)
    for confined, label in ((False, sandbox.OFF), (True, "bubblewrap")):
        request = replace(project.request, sandbox=confined, output_dir=tmp_path / label)
        result = run_result(request, membership(request))
        metadata = json.loads(result.delivered[0].metadata.read_text())
        assert metadata["sandbox"] == label
        body = deliver_pull_request(request, result, client(gh)).body
        assert (pulls.SANDBOX_OFF in body) is not confined
