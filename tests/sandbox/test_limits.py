"""The limits of one sandboxed call hold however they are applied: by ``sh`` + ``prlimit``
exec'd in front of bubblewrap (so Python starts the call with vfork) or, where there is
no ``prlimit``, in a pre-exec step; as root, by a pids cgroup of the call's own."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core import proclimits, sandbox
from bot.core.request import Limits, Request
from bot.core.sandbox_probe import probe
from tests.conftest import commit_files, make_request

pytestmark = pytest.mark.skipif(not probe().available, reason="needs bubblewrap")

FORKS = 60
# forks FORKS sleeping children (fewer if refused), then prints its count and its limits
FORKER = f"""
import os, time
children = []
try:
    for _ in range({FORKS}):
        pid = os.fork()
        if pid == 0:
            time.sleep(1)
            os._exit(0)
        children.append(pid)
except OSError:
    pass
for pid in children:
    os.waitpid(pid, 0)
print(len(children))
print(open("/proc/self/limits").read())
"""
WAYS = ("prlimit", "pre-exec")


@pytest.fixture(scope="module")
def request_(tmp_path_factory: pytest.TempPathFactory) -> Request:
    repo = tmp_path_factory.mktemp("limits") / "repo"
    commit_files(repo, {"a.txt": "a\n"})
    limits = Limits(max_processes=20, max_memory_mb=2048, max_file_mb=3)
    return make_request(repo, limits=limits)


@pytest.fixture(params=WAYS)
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each way of applying the limits; ``pre-exec`` is what a machine without prlimit gets."""
    if request.param == "prlimit":
        assert proclimits.prlimit_program() is not None, "util-linux's prlimit is missing"
    else:
        monkeypatch.setattr(proclimits, "prlimit_program", lambda: None)
    yield request.param


def _forker(req: Request) -> tuple[int, str]:
    done = sandbox.run(
        [sys.executable, "-c", FORKER], req.repo_root, timeout=60, kind="test", request=req
    )
    assert done.ok, done.stderr
    count, limits = done.stdout.split("\n", 1)
    return int(count), limits


def _limit(table: str, name: str) -> str:
    line = next(line for line in table.splitlines() if line.startswith(name))
    return line[len(name) :].split()[0]


def test_each_limit_is_set_in_the_sandboxed_call(request_: Request, way: str) -> None:
    forked, table = _forker(request_)
    assert forked < 20, f"{forked} processes under a limit of 20 ({way})"
    assert _limit(table, "Max processes") == "20"
    assert _limit(table, "Max address space") == str(2048 * 2**20)
    assert _limit(table, "Max file size") == str(3 * 2**20)


def test_without_the_sandbox_nothing_is_limited(request_: Request) -> None:
    """The attack the limits stop succeeds when they are off."""
    forked, table = _forker(dataclasses.replace(request_, sandbox=False))
    assert forked == FORKS
    assert _limit(table, "Max file size") == "unlimited"


def test_a_file_over_the_size_limit_cannot_be_written(request_: Request, way: str) -> None:
    write = "open('big', 'wb').write(b'x' * (4 << 20))"
    for confined in (True, False):
        req = dataclasses.replace(request_, sandbox=confined)
        done = sandbox.run(
            [sys.executable, "-c", write], req.repo_root, timeout=60, kind="test", request=req
        )
        assert done.ok is not confined, done.stderr
        (req.repo_root / "big").unlink(missing_ok=True)


@pytest.mark.skipif(proclimits.pids_root() is None, reason="needs root and a pids cgroup")
def test_as_root_the_process_count_is_held_by_the_calls_pids_cgroup(
    request_: Request, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RLIMIT_NPROC does not bind root: without the cgroup the fork bomb gets through."""
    with_group, _ = _forker(request_)
    monkeypatch.setattr(proclimits, "pids_root", lambda: None)
    without, _ = _forker(request_)
    assert with_group < 20
    assert without == FORKS


def test_a_cgroup_that_cannot_be_joined_runs_nothing(tmp_path: Path) -> None:
    """Fail closed: the call does not start outside the group it was meant to be in."""
    marker = tmp_path / "ran"
    missing = tmp_path / "no-such-group"
    launch = proclimits.launch(proclimits.ResourceLimits(), missing)
    assert launch.preexec is None, "prlimit is installed: no pre-exec step, so no fork"
    done = subprocess.run(
        [*launch.prefix, "touch", str(marker)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert not marker.exists()
    launch = proclimits.launch(proclimits.ResourceLimits(), None)
    subprocess.run([*launch.prefix, "touch", str(marker)], check=True)
    assert marker.exists()


@pytest.mark.skipif(proclimits.pids_root() is None, reason="needs root and a pids cgroup")
def test_groups_left_by_a_killed_bot_are_removed_and_live_ones_kept() -> None:
    root = proclimits.pids_root()
    assert root is not None
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid now belongs to no process
    alive = subprocess.Popen(["sleep", "30"])
    stale, kept = (root / f"selfimprove-{p.pid}-1" for p in (dead, alive))
    stale.mkdir()
    kept.mkdir()
    try:
        proclimits._sweep.cache_clear()
        with proclimits.pids_cgroup(10) as group:
            assert group is not None and group.is_dir()
        assert not stale.exists()
        assert kept.is_dir(), "a running bot's group was removed"
    finally:
        alive.kill()
        alive.wait()
        for group in (stale, kept):
            with contextlib.suppress(OSError):
                group.rmdir()
