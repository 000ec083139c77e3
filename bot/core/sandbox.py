"""Run target or tool code in a subprocess: sandboxed, time-limited, with an allowlisted env.

Every command that may execute the target's code (tests, replays, imports) or analyse it
(ruff, mypy, bandit: their plugins are code) goes through :func:`run` or :func:`start`.
On Linux that is bubblewrap (:mod:`bot.core.bwrap`), on macOS ``sandbox-exec``
(:mod:`bot.core.seatbelt`); with neither, or with the sandbox turned off, the command
runs under a subreaper (:mod:`bot.core.reaper`) that kills every process it left
behind. Either way the environment is an allowlist, never the bot's own minus a denylist.
The time spent in subprocesses is added up in :data:`CLOCK` so a benchmark can tell the
bot's own overhead from the work it waits for.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core import bwrap, interrupt, proclimits, sandbox_paths, seatbelt, secrets
from bot.core.proclimits import ResourceLimits
from bot.core.sandbox_probe import BUBBLEWRAP, SEATBELT, probe
from bot.core.secrets import is_secret

if TYPE_CHECKING:
    from bot.core.request import Request

__all__ = ["is_secret"]

REAPER = Path(__file__).resolve().parent / "reaper.py"
HELD_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
NONE = "none"
OFF, UNAVAILABLE = "off", "unavailable"
_ALLOWED = ("PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "HOME", "USER", "LOGNAME")
_UNSAFE_NAMES = frozenset(
    {"PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONINSPECT", "PYTEST_ADDOPTS"}
)


@dataclass(frozen=True)
class Policy:
    """How one call is confined: the sandbox wanted, the names passed, what to hide."""

    sandbox: bool = True
    pass_env: tuple[str, ...] = ()
    interpreter: str | None = None
    state: tuple[Path, ...] = ()  # the bot's folders: $SELFIMPROVE_HOME
    secret_files: tuple[Path, ...] = ()  # the signing key
    limits: ResourceLimits = field(default_factory=ResourceLimits)


def policy_for(request: Request | None) -> Policy:
    """The policy of a run (or, without a Request, the strictest defaults)."""
    state = [Path(p) for p in (os.environ.get("SELFIMPROVE_HOME"),) if p]
    keys = [Path(p) for p in (secrets.get("SELFIMPROVE_SIGNING_KEY"),) if p]
    if request is None:
        return Policy(state=tuple(state), secret_files=tuple(keys))
    if request.signing_key is not None:
        keys.append(request.signing_key)
    limits = request.limits
    return Policy(
        sandbox=request.sandbox,
        pass_env=request.pass_env,
        interpreter=request.interpreter,
        state=(request.home, *state),
        secret_files=tuple(keys),
        limits=ResourceLimits(limits.max_processes, limits.max_memory_mb, limits.max_file_mb),
    )


def mode(policy: Policy) -> str:
    """The sandbox a call under ``policy`` gets: bubblewrap, sandbox-exec, or none."""
    if not policy.sandbox:
        return NONE
    return probe().kind or NONE


def label(request: Request | None) -> str:
    """What the bundle, the ledger and the PR say: bubblewrap, sandbox-exec, ``off``
    (turned off with --no-sandbox or ``sandbox = false``) or ``unavailable``."""
    policy = policy_for(request)
    if not policy.sandbox:
        return OFF
    return probe().kind or UNAVAILABLE


def virtual_env(interpreter: str | None) -> str | None:
    """The venv an interpreter belongs to (its ``VIRTUAL_ENV``), if it is in one."""
    if not interpreter:
        return None
    root = Path(interpreter).parent.parent
    return str(root) if (root / "pyvenv.cfg").is_file() else None


def allowed_env(
    policy: Policy, extra: Mapping[str, str] | None = None, *, confined: bool = False
) -> dict[str, str]:
    """The allowlisted environment plus ``extra``; a secret-looking ``extra`` is refused."""
    names = (*_ALLOWED, *policy.pass_env)
    env = {
        k: v
        for k, v in os.environ.items()
        if any(fnmatch.fnmatchcase(k, n) for n in names)
        and not is_secret(k)
        and k.upper() not in _UNSAFE_NAMES
    }
    venv = virtual_env(policy.interpreter)
    if venv:
        env["VIRTUAL_ENV"] = venv
    if confined:
        env["TMPDIR"] = "/tmp"
    elif os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("PYTHONHASHSEED", "0")
    if extra:
        for key, value in extra.items():
            if is_secret(key):
                raise ValueError(f"refusing to pass secret-looking variable {key} to a subprocess")
            env[key] = value
    return env


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allowlisted environment of the default policy, plus ``extra``."""
    return allowed_env(Policy(), extra)


@dataclass
class SubprocessClock:
    """Wall time spent waiting on subprocesses, by kind ("tests", "replay", "ruff", ...)."""

    seconds: dict[str, float] = field(default_factory=dict)
    sandboxes: set[str] = field(default_factory=set)  # the labels of the calls made
    started: int = 0  # subprocesses started (each pays the sandbox's start-up once)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds

    def confined_by(self, label: str) -> None:
        """One more subprocess started, confined as ``label`` says."""
        with self._lock:
            self.sandboxes.add(label)
            self.started += 1

    def sandbox_label(self) -> str:
        """The sandboxes the run's calls used, ``+``-joined (``none`` before any call)."""
        with self._lock:
            return "+".join(sorted(self.sandboxes)) or NONE

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.sandboxes.clear()
            self.started = 0


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


@dataclass
class _Live:
    """A running call and how to clean up after it."""

    proc: subprocess.Popen[str]
    confined: bool
    cleanup: contextlib.ExitStack


_LIVE: dict[int, _Live] = {}
_LIVE_LOCK = threading.Lock()


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _stop_now(live: _Live) -> None:
    """Without waiting: SIGKILL a sandbox (its namespace dies with it), SIGTERM a reaper
    (it kills every descendant, then itself)."""
    if live.confined:
        _kill_group(live.proc)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(live.proc.pid, signal.SIGTERM)


def _terminate(live: _Live) -> None:
    """Kill a call and everything it started, and wait for that to be done."""
    _stop_now(live)
    if not live.confined:
        with contextlib.suppress(subprocess.TimeoutExpired):
            live.proc.wait(timeout=5)
    _kill_group(live.proc)


def kill_all() -> None:
    """Kill every subprocess still running (used when the run is interrupted).

    Called from a signal handler too, so it takes no lock (the main thread may hold it)
    and waits for nothing.
    """
    for _ in range(3):
        try:
            lives = tuple(_LIVE.values())
            break
        except RuntimeError:  # the dict changed while being copied
            continue
    else:
        lives = ()
    for live in lives:
        _stop_now(live)


interrupt.on_signal(kill_all)


def _wrap(
    argv: Sequence[str],
    cwd: Path,
    policy: Policy,
    writable: Sequence[Path],
    readable: Sequence[Path],
    group: Path | None,
) -> tuple[list[str], Callable[[], None] | None, bool]:
    """The command line that confines ``argv``, its pre-exec step, and whether it is confined."""
    kind = mode(policy)
    if kind == NONE:
        return [sys.executable, "-I", "-S", str(REAPER), *argv], None, False
    program = probe().program
    assert program is not None
    layout = sandbox_paths.layout(
        cwd,
        interpreter=policy.interpreter,
        state=policy.state,
        secret_files=policy.secret_files,
        writable=writable,
        readable=readable,
    )
    render = bwrap.command if kind == BUBBLEWRAP else seatbelt.command
    assert kind in (BUBBLEWRAP, SEATBELT)
    limited = proclimits.launch(policy.limits, group)
    return [*limited.prefix, *render(program, argv, cwd, layout)], limited.preexec, True


def start(
    argv: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    request: Request | None = None,
    writable: Sequence[Path] = (),
    readable: Sequence[Path] = (),
) -> subprocess.Popen[str]:
    """Start a long-lived sandboxed subprocess with pipes (the caller must :func:`stop` it).

    ``writable`` and ``readable`` name the paths beyond the checkout holding ``cwd`` the
    call needs (scratch folders, caches, recorded inputs); ``request`` gives the run's policy.
    """
    interrupt.check()  # a stop asked for between two subprocesses starts no third
    policy = policy_for(request)
    CLOCK.confined_by(label(request))
    cleanup = contextlib.ExitStack()
    proc: subprocess.Popen[str] | None = None
    try:
        for folder in writable:
            folder.mkdir(parents=True, exist_ok=True)
        confined = mode(policy) != NONE
        group = (
            cleanup.enter_context(proclimits.pids_cgroup(policy.limits.max_processes))
            if (confined)
            else None
        )
        command, preexec, confined = _wrap(argv, cwd, policy, writable, readable, group)
        with _signals_held() if preexec else contextlib.nullcontext():
            proc = subprocess.Popen(
                command,
                cwd=cwd,
                env=allowed_env(policy, env, confined=confined),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
                preexec_fn=preexec,
            )
            with _LIVE_LOCK:
                _LIVE[proc.pid] = _Live(proc, confined, cleanup)
    except BaseException:  # a stop delivered as the signals are let through, say
        if proc is not None:
            _forget(proc)
            _kill_group(proc)
            with contextlib.suppress(Exception):
                proc.communicate(timeout=5)
        cleanup.close()
        raise
    return proc


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while the main thread forks: a pre-exec step makes Python fork
    (not spawn), which runs at-fork callbacks (logging's), and the stop handler raising
    inside one is lost as "Exception ignored". Held, they arrive right after, here."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _forget(proc: subprocess.Popen[str]) -> _Live | None:
    with _LIVE_LOCK:
        return _LIVE.pop(proc.pid, None)


def stop(proc: subprocess.Popen[str]) -> None:
    """Kill a process started with :func:`start` and everything it started."""
    with _LIVE_LOCK:
        live = _LIVE.get(proc.pid)
    if live is not None:
        _terminate(live)
    else:
        _kill_group(proc)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=5)
    live = _forget(proc)
    if live is not None:
        live.cleanup.close()


def run(
    argv: Sequence[str],
    cwd: Path,
    *,
    timeout: float,
    kind: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    request: Request | None = None,
    writable: Sequence[Path] = (),
    readable: Sequence[Path] = (),
) -> Completed:
    """Run ``argv`` to completion or until ``timeout``; never raises on a non-zero exit."""
    began = time.perf_counter()
    proc = start(argv, cwd, env=env, request=request, writable=writable, readable=readable)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with _LIVE_LOCK:
            live = _LIVE.get(proc.pid)
        if live is not None:
            _terminate(live)
        stdout, stderr = proc.communicate()
    finally:
        _kill_group(proc)
        live = _forget(proc)
        if live is not None:
            live.cleanup.close()
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
