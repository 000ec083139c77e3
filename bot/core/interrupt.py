"""Ctrl-C and SIGTERM as a flag the flow checks, not only an exception that may get lost.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be. When that is
a finaliser (a ``__del__``, a weakref callback, a generator being closed), the exception
is printed as "ignored" and the run goes on: the cause of a Ctrl-C that was sometimes
swallowed during capture. So a signal here does three things at once: it sets a flag
that every subprocess start and every step of the flow checks, it kills every sandboxed
subprocess tree (the current step ends at once), and it raises :class:`Interrupted` for
the common case. Whichever of these lands first, the run stops at its next check.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

_FLAG = threading.Event()
_ON_SIGNAL: list[Callable[[], None]] = []


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop (Ctrl-C, SIGTERM): clean up and exit 130."""


def requested() -> bool:
    """True once a stop was asked for."""
    return _FLAG.is_set()


def check() -> None:
    """Raise :class:`Interrupted` if a stop was asked for; call between steps."""
    if _FLAG.is_set():
        raise Interrupted("interrupted")


def on_signal(hook: Callable[[], None]) -> None:
    """Run ``hook`` (it must not block) when a stop is asked for: say, kill subprocesses."""
    _ON_SIGNAL.append(hook)


def _handle(signum: int, frame: FrameType | None) -> None:
    first = not _FLAG.is_set()
    _FLAG.set()
    for hook in _ON_SIGNAL:
        hook()
    if first:  # a second signal must not break the cleanup the first one started
        raise Interrupted(f"signal {signum}")


@contextmanager
def handled(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Route ``signals`` to the flag for the duration of a command (main thread only)."""
    _FLAG.clear()
    previous = {sig: signal.signal(sig, _handle) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def reset() -> None:
    """Forget an earlier stop (a long-lived process such as ``serve`` between runs)."""
    _FLAG.clear()
