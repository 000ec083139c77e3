"""Resource limits of one sandboxed call: processes, address space, file size.

The limits are set before ``bwrap`` starts, so they hold for everything the sandbox
starts. ``RLIMIT_NPROC`` does not bind root, so when the bot runs as root it also puts
the call in a pids cgroup of its own (v1 or v2, whichever is writable) capped at the same
number.

Where ``prlimit`` (util-linux) is installed, two tiny programs exec'd in front of the
sandbox apply them (:func:`launch`): ``sh`` joins the cgroup, ``prlimit`` lowers the
limits, each then execs the next with the same pid. Python can then start the call with
``vfork``, whose cost does not grow with the bot's size; a pre-exec step (``preexec_fn``,
the fallback where there is no ``prlimit``, such as macOS) makes it ``fork`` instead,
copying the page tables of a bot of a few hundred MB and faulting its pages back after:
10-60 ms a call on a loaded machine, measured in ``benchmarks/sandbox.py``.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import resource
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.core.reaper import pid_alive

_MB = 1024 * 1024
_CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_COUNTER = itertools.count(1)
_GROUP_NAME = re.compile(r"selfimprove-(?P<pid>\d+)-\d+")  # the bot's pid, then a counter
HELD = (signal.SIGINT, signal.SIGTERM)
# joins the cgroup whose cgroup.procs is $1 (fails closed: nothing runs if it cannot)
JOIN_CGROUP = 'printf 0 > "$1" && shift && exec "$@"'


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
        _sweep(root)
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


@functools.cache
def _sweep(root: Path) -> None:
    """Once per process: remove the empty groups left by bot processes that died in a
    call (killed, so their ``finally`` never ran), which would otherwise pile up. One
    still holding processes is left alone: its bot may live in another pid namespace."""
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            found = _GROUP_NAME.fullmatch(entry.name)
            if found and not pid_alive(int(found["pid"])):
                with contextlib.suppress(OSError):
                    entry.rmdir()


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


@dataclass(frozen=True)
class Launch:
    """How a call gets its limits: programs exec'd in front of it, or a pre-exec step."""

    prefix: tuple[str, ...] = ()
    preexec: Callable[[], None] | None = None


@functools.cache
def prlimit_program() -> str | None:
    """util-linux's ``prlimit``, which sets limits and execs a command, if installed."""
    return shutil.which("prlimit")


def launch(limits: ResourceLimits, group: Path | None) -> Launch:
    """Join ``group`` and lower the limits by exec'ing ``sh`` and ``prlimit`` in front of
    the call where ``prlimit`` exists, else in a pre-exec step (see the module's doc)."""
    program = prlimit_program()
    if program is None:
        return Launch(preexec=preexec(limits, group))
    join = (
        () if group is None else ("/bin/sh", "-c", JOIN_CGROUP, "sh", str(group / "cgroup.procs"))
    )
    lowered = tuple(f"--{name}={value}" for _which, name, value in ceilings(limits))
    return Launch(prefix=(*join, program, *lowered, "--"))


def ceilings(limits: ResourceLimits) -> list[tuple[int, str, int]]:
    """Each limit to set (resource, ``prlimit``'s name for it, value), capped at the
    inherited hard limit, which an unprivileged process cannot raise."""
    wanted = (
        (resource.RLIMIT_NPROC, "nproc", limits.max_processes),
        (resource.RLIMIT_AS, "as", limits.max_memory_mb * _MB),
        (resource.RLIMIT_FSIZE, "fsize", limits.max_file_mb * _MB),
    )
    found = []
    for which, name, value in wanted:
        _soft, hard = resource.getrlimit(which)
        found.append((which, name, value if hard == resource.RLIM_INFINITY else min(value, hard)))
    return found


def preexec(limits: ResourceLimits, group: Path | None) -> Callable[[], None]:
    """What the child runs before exec: join ``group``, then lower its limits."""
    procs = str(group / "cgroup.procs") if group is not None else None
    pairs = ceilings(limits)

    def apply() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)  # held by the parent while forking
        if procs is not None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        for which, _name, ceiling in pairs:
            with contextlib.suppress(ValueError, OSError):  # macOS refuses some limits
                resource.setrlimit(which, (ceiling, ceiling))

    return apply
