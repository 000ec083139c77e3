"""Which OS sandbox this machine can make, and if none, why not (``selfimprove doctor``).

Linux: bubblewrap, tried once for real (a user namespace with pid and net namespaces),
because an installed ``bwrap`` says nothing about whether the kernel, AppArmor or a
container's seccomp profile lets it work. macOS: ``sandbox-exec``. ``SELFIMPROVE_BWRAP``
names another ``bwrap`` binary (or a missing one, to see the fallback).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BUBBLEWRAP = "bubblewrap"
SEATBELT = "sandbox-exec"
NAMESPACES = (
    "--unshare-user",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
)
HOW_TO_GET_ONE = (
    "install bubblewrap (apt-get install bubblewrap) and allow unprivileged user "
    "namespaces (see `selfimprove doctor`)"
)


@dataclass(frozen=True)
class Availability:
    """The sandbox found (``kind`` is None when there is none) and a sentence about it."""

    kind: str | None
    program: str | None
    reason: str

    @property
    def available(self) -> bool:
        return self.kind is not None


def bwrap_program() -> str | None:
    """The bubblewrap binary to use: ``SELFIMPROVE_BWRAP`` or ``bwrap`` on PATH."""
    configured = os.environ.get("SELFIMPROVE_BWRAP")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("bwrap")


@functools.cache
def probe() -> Availability:
    """What this machine offers, tried once per process."""
    if sys.platform == "darwin":
        program = shutil.which("sandbox-exec")
        if program:
            return Availability(SEATBELT, program, "sandbox-exec (macOS Seatbelt) is available")
        return Availability(None, None, "sandbox-exec is not on PATH")
    if not sys.platform.startswith("linux"):
        return Availability(None, None, f"no sandbox is supported on {sys.platform}")
    program = bwrap_program()
    if program is None:
        return Availability(None, None, "bwrap is not installed (apt-get install bubblewrap)")
    argv = [program, *NAMESPACES, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Availability(None, None, f"{program} could not be started: {exc}")
    if done.returncode == 0:
        return Availability(BUBBLEWRAP, program, f"bubblewrap works ({program})")
    said = done.stderr.strip().splitlines()
    why = said[-1] if said else f"exit status {done.returncode}"
    return Availability(None, None, f"bubblewrap fails: {why}; {_hint()}")


def _hint() -> str:
    """The most likely cause of a failing bwrap on this machine, as advice."""
    if _sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1":
        return (
            "AppArmor restricts unprivileged user namespaces: "
            "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0"
        )
    if _sysctl("kernel/unprivileged_userns_clone") == "0":
        return "user namespaces are disabled: sudo sysctl kernel.unprivileged_userns_clone=1"
    if _sysctl("user/max_user_namespaces") == "0":
        return "user namespaces are disabled: sudo sysctl user.max_user_namespaces=15000"
    if Path("/.dockerenv").exists():
        return (
            "inside Docker, run the container with --security-opt seccomp=unconfined "
            "--security-opt apparmor=unconfined --security-opt systempaths=unconfined"
        )
    return "check that the kernel allows unprivileged user namespaces"


def _sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", name).read_text().strip()
    except OSError:
        return None


def report() -> list[str]:
    """Lines for ``selfimprove doctor``."""
    found = probe()
    if found.available:
        return [f"sandbox: {found.kind}", found.reason]
    return [
        "sandbox: none",
        f"why: {found.reason}",
        "codemod candidates still run without one; model-written candidates need one "
        "(or --no-sandbox, at your own risk)",
    ]
