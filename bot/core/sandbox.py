"""Run target or tool code in a subprocess: a timeout, its own process group, a scrubbed env.

Every command that may execute the target's code (tests, replays, imports) or analyse it
(ruff, mypy, bandit) goes through :func:`run` or :func:`start`, so no token or key ever
reaches it and a hang is always killed. The time spent in subprocesses is added up in
:data:`CLOCK` so a benchmark can tell the bot's own overhead from the work it waits for.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.core import interrupt

_SECRET_PATTERNS = ("*_TOKEN", "*_KEY", "*SECRET*", "*PASSWORD*", "*_TOKEN_*", "*CREDENTIALS*")
_SECRET_NAMES = frozenset(
    {"GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"}
)
_UNSAFE_NAMES = frozenset(
    {"PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONINSPECT", "PYTEST_ADDOPTS"}
)


def is_secret(name: str) -> bool:
    """True for environment variable names that may carry credentials."""
    upper = name.upper()
    return upper in _SECRET_NAMES or any(fnmatch.fnmatchcase(upper, p) for p in _SECRET_PATTERNS)


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The bot's environment minus secrets and interpreter hooks, plus ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if not is_secret(k) and k.upper() not in _UNSAFE_NAMES
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("PYTHONHASHSEED", "0")
    if extra:
        for key, value in extra.items():
            if is_secret(key):
                raise ValueError(f"refusing to pass secret-looking variable {key} to a subprocess")
            env[key] = value
    return env


@dataclass
class SubprocessClock:
    """Wall time spent waiting on subprocesses, by kind ("tests", "replay", "ruff", ...)."""

    seconds: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()


CLOCK = SubprocessClock()


@dataclass(frozen=True)
class Completed:
    """What a finished subprocess left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 20) -> str:
        """The last lines of output, for a human reason."""
        text = (self.stdout + "\n" + self.stderr).strip().splitlines()
        return "\n".join(text[-lines:])


_LIVE: set[subprocess.Popen[str]] = set()
_LIVE_LOCK = threading.Lock()


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def kill_all() -> None:
    """Kill every subprocess still running (used when the run is interrupted).

    Called from a signal handler too, so it takes no lock (the main thread may hold it).
    """
    for _ in range(3):
        try:
            procs = tuple(_LIVE)
            break
        except RuntimeError:  # the set changed while being copied
            continue
    else:
        procs = ()
    for proc in procs:
        _kill_group(proc)


interrupt.on_signal(kill_all)


def start(
    argv: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start a long-lived sandboxed subprocess with pipes (the caller must :func:`stop` it)."""
    interrupt.check()  # a stop asked for between two subprocesses starts no third
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=scrubbed_env(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    with _LIVE_LOCK:
        _LIVE.add(proc)
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    """Kill a process started with :func:`start` and its whole group."""
    _kill_group(proc)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=5)
    with _LIVE_LOCK:
        _LIVE.discard(proc)


def run(
    argv: Sequence[str],
    cwd: Path,
    *,
    timeout: float,
    kind: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> Completed:
    """Run ``argv`` to completion or until ``timeout``; never raises on a non-zero exit."""
    began = time.perf_counter()
    proc = start(argv, cwd, env=env)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        stdout, stderr = proc.communicate()
    finally:
        _kill_group(proc)
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    seconds = time.perf_counter() - began
    CLOCK.add(kind, seconds)
    interrupt.check()  # killed by a stop: its output means nothing
    return Completed(
        tuple(argv),
        proc.returncode if not timed_out else -signal.SIGKILL,
        stdout,
        stderr,
        seconds,
        timed_out,
    )
