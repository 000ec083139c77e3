"""Resource limits of one sandboxed call: processes, address space, file size.

The limits are set in the child between fork and exec of ``bwrap`` (``preexec_fn``), so
they hold for everything the sandbox starts. ``RLIMIT_NPROC`` does not bind root, so when
the bot runs as root it also puts the call in a pids cgroup of its own (v1 or v2,
whichever is writable) capped at the same number.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_MB = 1024 * 1024
_CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_COUNTER = itertools.count(1)
HELD = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class ResourceLimits:
    """The ceilings of one call; defaults fit real test suites and mypy."""

    max_processes: int = 4096
    max_memory_mb: int = 8192
    max_file_mb: int = 1024


def pids_root() -> Path | None:
    """A pids cgroup hierarchy this process may create groups in, or None."""
    if os.geteuid() != 0:
        return None
    v1, v2 = _CGROUP_ROOTS
    if (v1 / "cgroup.procs").exists():
        return v1
    if "pids" in _read(v2 / "cgroup.subtree_control").split():
        return v2
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@contextlib.contextmanager
def pids_cgroup(limit: int) -> Iterator[Path | None]:
    """A fresh pids cgroup capped at ``limit`` for the duration, or None where there is none."""
    root = pids_root()
    group: Path | None = None
    if root is not None:
        candidate = root / f"selfimprove-{os.getpid()}-{next(_COUNTER)}"
        try:
            candidate.mkdir()
            (candidate / "pids.max").write_text(str(limit))
            group = candidate
        except OSError:
            with contextlib.suppress(OSError):
                candidate.rmdir()
    try:
        yield group
    finally:
        if group is not None:
            _remove(group)


def _remove(group: Path) -> None:
    """Kill what is left in the group and remove it."""
    for _ in range(50):
        pids = _read(group / "cgroup.procs").split()
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(int(pid), 9)
        try:
            group.rmdir()
            return
        except OSError:
            os.sched_yield()


def preexec(limits: ResourceLimits, group: Path | None) -> Callable[[], None]:
    """What the child runs before exec: join ``group``, then lower its limits."""
    procs = str(group / "cgroup.procs") if group is not None else None
    pairs = (
        (resource.RLIMIT_NPROC, limits.max_processes),
        (resource.RLIMIT_AS, limits.max_memory_mb * _MB),
        (resource.RLIMIT_FSIZE, limits.max_file_mb * _MB),
    )

    def apply() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)  # held by the parent while forking
        if procs is not None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        for which, value in pairs:
            _soft, hard = resource.getrlimit(which)
            ceiling = value if hard == resource.RLIM_INFINITY else min(value, hard)
            with contextlib.suppress(ValueError, OSError):  # macOS refuses some limits
                resource.setrlimit(which, (ceiling, ceiling))

    return apply
