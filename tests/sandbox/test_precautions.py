"""The bot's own precautions, sandbox or not: secrets out of os.environ and out of the
environment block, git that runs no repository program, the repository snapshot checked
before a push, the prompt cache's HMAC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import git
import pytest

from bot.core import hardening, repo_guard, secrets
from bot.core.llm.cache import PromptCache
from bot.core.llm.completion import Completion
from bot.github.delivery import deliver_pull_request
from tests.conftest import commit_files
from tests.github.accepted import make_project, membership, run_result
from tests.github.rest_standin import GitHubStandIn
from tests.github.test_delivery import client

CHILD = """
import json, os, sys
from bot.core import hardening, secrets
hardening.harden()
environ = open(f"/proc/{os.getpid()}/environ", "rb").read().decode(errors="replace")
print(json.dumps({
    "in_os_environ": sorted(n for n in os.environ if "CANARY" in os.environ[n]),
    "in_block": "canary" in environ,
    "held": secrets.environ().get("INPUT_GITHUB-TOKEN"),
    "plain": os.environ.get("PLAIN_SETTING"),
}))
"""


def test_secrets_leave_os_environ_and_the_environment_block(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GITHUB_TOKEN": "canary-1",
        "INPUT_GITHUB-TOKEN": "canary-2",
        "ANTHROPIC_API_KEY": "canary-3",
        "PLAIN_SETTING": "kept",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout)
    assert found == {"in_os_environ": [], "in_block": False, "held": "canary-2", "plain": "kept"}


def test_secret_names_include_dashed_action_inputs() -> None:
    assert secrets.is_secret("INPUT_GITHUB-TOKEN") and secrets.is_secret("INPUT_OPENAI-API-KEY")
    assert not secrets.is_secret("INPUT_PATH")


def test_git_runs_no_hook_and_no_external_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    commit_files(repo, {"a.txt": "a\n"})
    marker = tmp_path / "ran"
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git.Repo(repo).git.config("diff.external", f"sh -c 'touch {marker}'")
    (repo / "a.txt").write_text("b\n")
    git.Repo(repo).git.worktree("add", "--detach", str(tmp_path / "before"), "HEAD")
    assert marker.exists(), "the hook runs without the protection"
    marker.unlink()
    env: dict[str, str] = dict(os.environ)
    hardening.protect_git(env)
    monkeypatch.setattr(os, "environ", env)
    git.Repo(repo).git.worktree("add", "--detach", str(tmp_path / "after"), "HEAD")
    with pytest.raises(git.GitCommandError):
        git.Repo(repo).git.diff()  # diff.external is emptied: git refuses, runs nothing
    assert not marker.exists()


def test_a_push_is_refused_when_a_hook_appeared_during_the_run(tmp_path: Path) -> None:
    with GitHubStandIn() as gh:
        project = make_project(tmp_path)
        gh.add_repo("octo/demo", remote=project.remote)
        request = project.request
        result = run_result(request, membership(request))
        assert repo_guard.take(project.root, [request.home])
        try:
            (project.root / ".git" / "hooks" / "pre-push").write_text("#!/bin/sh\n")
            with pytest.raises(repo_guard.RepositoryChanged, match="hooks/pre-push was added"):
                deliver_pull_request(request, result, client(gh))
        finally:
            repo_guard.forget(project.root)
        assert gh.repos["octo/demo"].pulls == []
        assert [b.name for b in git.Repo(project.remote).branches] == ["main"]
        assert result.delivered[0].patch.exists()  # the bundle is kept


def test_a_change_to_the_users_working_tree_is_noticed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commit_files(repo, {"a.py": "x = 1\n"})
    before = repo_guard.snapshot(repo)
    (repo / "planted.py").write_text("import os\n")
    assert repo_guard.differences(before, repo_guard.snapshot(repo)) == [
        "working tree file planted.py was added"
    ]


def test_a_forged_prompt_cache_entry_is_a_miss(tmp_path: Path) -> None:
    cache = PromptCache(tmp_path / "llm")
    cache.put("k1", Completion("real reply", 10, 5), "system", "user")
    assert PromptCache(tmp_path / "llm").get("k1") == Completion("real reply", 10, 5)
    entry = tmp_path / "llm" / "k1.json"
    entry.write_text(entry.read_text().replace("real reply", "forged reply"))
    assert PromptCache(tmp_path / "llm").get("k1") is None
    (tmp_path / "llm" / "k2.json").write_text(
        '{"text": "no mac", "input_tokens": 1, "output_tokens": 1}'
    )
    assert PromptCache(tmp_path / "llm").get("k2") is None
