"""The ``sandbox-exec`` command line for one sandboxed call (macOS Seatbelt).

Weaker than bubblewrap (see the README): no pid namespace, so other processes and their
environments stay visible to ``ps``; reads are denied only for the bot's state, the home
folder's credential files and the named secret files; the profile language is deprecated
by Apple though still shipped. Network and writes outside the checkout, the scratch
folders and the temporary folders are denied.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.core.sandbox_paths import Layout

_HOME_SECRETS = (".ssh", ".config", ".git-credentials", ".netrc", ".gnupg", ".aws", ".pypirc")


def _quote(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def profile(layout: Layout) -> str:
    """The Seatbelt profile text for ``layout``."""
    lines = ["(version 1)", "(allow default)", "(deny network*)", "(allow network* (local unix))"]
    lines.append("(deny file-write*)")
    writable = [*layout.writable, Path("/private/tmp"), Path("/private/var/folders")]
    lines += [f"(allow file-write* (subpath {_quote(p)}))" for p in writable]
    lines += [
        '(allow file-write* (literal "/dev/null") (literal "/dev/zero") (literal "/dev/tty"))'
    ]
    secret_dirs = [*layout.hidden_dirs]
    if layout.home is not None:
        secret_dirs += [layout.home / name for name in _HOME_SECRETS]
    lines += [f"(deny file-read* (subpath {_quote(p)}))" for p in secret_dirs]
    lines += [f"(deny file-read* (literal {_quote(p)}))" for p in layout.hidden_files]
    lines += [f"(allow file-read* (subpath {_quote(p)}))" for p in layout.writable]
    return "\n".join(lines) + "\n"


def command(program: str, argv: Sequence[str], cwd: Path, layout: Layout) -> list[str]:
    """``sandbox-exec -p PROFILE argv`` (the cwd is set by the caller)."""
    del cwd
    return [program, "-p", profile(layout), *argv]
