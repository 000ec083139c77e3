"""The bubblewrap command line for one sandboxed call (Linux).

New user, pid, net, ipc, uts (and, where possible, cgroup) namespaces; no capabilities,
no nested user namespaces; the sandbox dies with the bot and runs in its own session (no
terminal injection); a fresh ``/proc`` shows only its own processes, so no ancestor's
``/proc/<pid>/environ``; the network is the namespace's own loopback only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.core.sandbox_paths import Layout
from bot.core.sandbox_probe import NAMESPACES


def command(program: str, argv: Sequence[str], cwd: Path, layout: Layout) -> list[str]:
    """``bwrap ... -- argv`` running in ``cwd`` with ``layout``'s view of the filesystem."""
    args = [
        program,
        *NAMESPACES,
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--tmpfs",
        "/dev/shm",
        "--proc",
        "/proc",
    ]
    for folder in layout.private_dirs:
        perms = "1777" if folder == Path("/tmp") else "0700"
        args += ["--perms", perms, "--tmpfs", str(folder)]
    for path in layout.shared:
        args += ["--ro-bind", str(path), str(path)]
    for folder in layout.hidden_dirs:
        args += ["--tmpfs", str(folder)]
    mounts = [
        *(("--ro-bind", p) for p in layout.readable),
        *(("--bind", p) for p in layout.writable),
        *(("--tmpfs", p) for p in layout.rehidden),
    ]
    # outer paths first: a bind of a folder holding the bot's state, then the state hidden
    # again, then the worktree inside it bound back
    for flag, path in sorted(mounts, key=lambda mount: len(mount[1].parts)):
        args += [flag, str(path)] if flag == "--tmpfs" else [flag, str(path), str(path)]
    for path in layout.hidden_files:
        args += ["--ro-bind", "/dev/null", str(path)]
    return [*args, "--chdir", str(cwd), "--", *argv]
