"""Secrets read once at start-up, held in memory, and removed from ``os.environ``.

Once :func:`capture` has run, no subprocess the bot starts (git, a test run, a tool)
inherits a token by accident, and code that needs one asks :func:`environ` for it.
A name is a secret when it looks like a credential, dashes read as underscores, so the
Action's ``INPUT_GITHUB-TOKEN`` counts as well as ``GITHUB_TOKEN``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping

_PATTERNS = ("*_TOKEN", "*_KEY", "*SECRET*", "*PASSWORD*", "*_TOKEN_*", "*CREDENTIALS*")
_NAMES = frozenset(
    {"GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"}
)
_HELD: dict[str, str] = {}
_LOCK = threading.Lock()


def is_secret(name: str) -> bool:
    """True for environment variable names that may carry credentials."""
    upper = name.upper().replace("-", "_")
    return upper in _NAMES or any(fnmatch.fnmatchcase(upper, p) for p in _PATTERNS)


def capture(env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Move every secret-looking variable out of ``env`` (``os.environ``) into memory."""
    source = os.environ if env is None else env
    taken = {name: value for name, value in source.items() if is_secret(name)}
    with _LOCK:
        _HELD.update(taken)
    for name in taken:
        source.pop(name, None)
    return taken


def environ() -> dict[str, str]:
    """The environment as the bot started with it: ``os.environ`` plus the held secrets."""
    with _LOCK:
        return {**os.environ, **_HELD}


@contextlib.contextmanager
def hold(values: Mapping[str, str]) -> Iterator[None]:
    """Hold ``values`` too for the duration (never putting them in ``os.environ``)."""
    with _LOCK:
        before = {name: _HELD.get(name) for name in values}
        _HELD.update(values)
    try:
        yield
    finally:
        with _LOCK:
            for name, value in before.items():
                if value is None:
                    _HELD.pop(name, None)
                else:
                    _HELD[name] = value


@contextlib.contextmanager
def exposed(*names: str) -> Iterator[None]:
    """Put held ``names`` back in ``os.environ`` briefly, for a library that looks only there
    (sigstore's ambient OIDC detection); no subprocess may start meanwhile."""
    with _LOCK:
        values = {name: _HELD[name] for name in names if name in _HELD}
    os.environ.update(values)
    try:
        yield
    finally:
        for name in values:
            os.environ.pop(name, None)


def with_held(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the held secrets filled in where it lacks them."""
    with _LOCK:
        return {**_HELD, **env}


def get(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """One secret (or plain variable) by name, from ``env`` or the held environment."""
    return (environ() if env is None else env).get(name)
