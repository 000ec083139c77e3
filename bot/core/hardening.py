"""The bot's own precautions, with or without a sandbox, taken once at start-up.

- Secrets move from ``os.environ`` into memory (:mod:`bot.core.secrets`), and their
  bytes in the process's initial environment block (what ``/proc/<pid>/environ`` shows)
  are overwritten, so a process that can read the bot's ``/proc`` finds nothing.
- The bot makes itself non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): no core file, and
  processes of the same user cannot ptrace it or read its ``/proc`` files.
- Every git command the bot runs (gitpython and subprocess alike inherit the
  environment) ignores hooks, fsmonitor and the repository settings that run programs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path

from bot.core import secrets

PR_SET_DUMPABLE = 4
SAFE_GIT_CONFIG = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.sshCommand", "ssh"),
    ("core.askPass", ""),
    ("core.pager", "cat"),
    ("core.editor", "true"),
    ("core.gitProxy", ""),
    ("core.attributesFile", "/dev/null"),
    ("credential.helper", ""),
    ("diff.external", ""),
    ("protocol.ext.allow", "never"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
)


def git_parameters() -> str:
    """``GIT_CONFIG_PARAMETERS``: the ``-c`` options every git command gets."""
    return " ".join(f"'{key}={value}'" for key, value in SAFE_GIT_CONFIG)


def protect_git(env: MutableMapping[str, str] | None = None) -> None:
    """Make every later git command run with :data:`SAFE_GIT_CONFIG` and no prompts."""
    target = os.environ if env is None else env
    earlier = target.get("GIT_CONFIG_PARAMETERS", "").strip()
    target["GIT_CONFIG_PARAMETERS"] = f"{earlier} {git_parameters()}".strip()
    target["GIT_TERMINAL_PROMPT"] = "0"
    for name in ("GIT_EXTERNAL_DIFF", "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS"):
        target.pop(name, None)


def non_dumpable() -> bool:
    """``prctl(PR_SET_DUMPABLE, 0)`` on Linux; False where it cannot be done."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def wipe_initial_environ(names: Iterable[str]) -> int:
    """Overwrite ``names``' entries in the initial environment block; how many were wiped.

    Call only after the names were removed from ``os.environ`` (so from libc's
    ``environ``): nothing points at those bytes any more.
    """
    wanted = {name.encode() for name in names}
    if not wanted or not sys.platform.startswith("linux"):
        return 0
    try:
        fields = Path("/proc/self/stat").read_bytes().rsplit(b")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])
    except (OSError, IndexError, ValueError):
        return 0
    block = ctypes.string_at(start, end - start)
    wiped, offset = 0, 0
    for entry in block.split(b"\0"):
        if entry.split(b"=", 1)[0] in wanted:
            ctypes.memset(start + offset, ord("x"), len(entry))
            wiped += 1
        offset += len(entry) + 1
    return wiped


def harden() -> None:
    """All of the above, once, before anything else runs (the CLI's first step)."""
    taken = secrets.capture()
    with contextlib.suppress(OSError, ValueError):
        wipe_initial_environ(taken)
    non_dumpable()
    protect_git()
