"""The bot's side of ``bot/core/harness/selfimprove_replay.py``: one replay subprocess per worktree.

Captured calls are pickles made by target code, so only the replay subprocess ever
unpickles them; this client sends JSON commands and reads JSON verdicts, each answer
within a timeout, and turns a hang, a crash or a harness error into :class:`ReplayError`.
A process may hold two copies of the project (``NATIVE`` and ``OTHER``, see
``load_other``) so that base and candidate can be timed side by side in it.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from bot.core import sandbox
from bot.core.harness import HARNESS_DIR
from bot.core.request import Request
from bot.core.testrun import import_path_env

SCRIPT = HARNESS_DIR / "selfimprove_replay.py"
NATIVE, OTHER = "native", "other"  # a process's own import of the project, and its second copy
_TAIL_LINES = 15


class ReplayError(Exception):
    """A replay subprocess hung, died, or reported a harness error; the message says which."""


class ReplayProcess:
    """A running ``selfimprove_replay.py`` in ``project``, spoken to one JSON line at a time."""

    def __init__(
        self,
        side: str,
        interpreter: str,
        project: Path,
        capture_file: Path,
        import_roots: Sequence[str],
        timeout: float,
        request: Request | None = None,
        readable: Sequence[Path] = (),
    ) -> None:
        self.side = side
        self.timeout = timeout
        env = {"PYTHONHASHSEED": "0", **import_path_env(import_roots, project)}
        argv = [interpreter, str(SCRIPT), str(capture_file)]
        try:
            self.proc: subprocess.Popen[str] = sandbox.start(
                argv, project, env=env, request=request, readable=(capture_file, *readable)
            )
        except OSError as exc:
            raise ReplayError(f"cannot start the {side} replay: {exc}") from None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=_TAIL_LINES)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: IO[str] | None, protocol: bool) -> None:
        """Drain one pipe so the child never blocks on a full buffer."""
        if stream is None:
            return
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                if protocol:
                    self._lines.put(line)
                else:
                    self._stderr.append(line.rstrip())
        if protocol:
            self._lines.put(None)

    def _tail(self) -> str:
        self._threads[1].join(timeout=1)
        lines = [line for line in self._stderr if line.strip()]
        return lines[-1] if lines else "no output"

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command and wait at most ``timeout`` seconds for its answer."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(command) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            raise ReplayError(f"the {self.side} replay exited: {self._tail()}") from None
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            raise ReplayError(
                f"the {self.side} replay did not answer {command['cmd']!r} within {self.timeout:g}s"
            ) from None
        if line is None:
            code = self.proc.wait(timeout=5)
            raise ReplayError(f"the {self.side} replay exited with code {code}: {self._tail()}")
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            raise ReplayError(f"the {self.side} replay sent garbage: {line[:80]!r}") from None
        if not isinstance(answer, dict):
            raise ReplayError(f"the {self.side} replay sent garbage: {line[:80]!r}")
        if "error" in answer:
            raise ReplayError(f"the {self.side} replay failed: {answer['error']}")
        return answer

    def check(
        self, keys: Sequence[str], rel_tol: float, abs_tol: float, world: str = NATIVE
    ) -> dict[str, Any]:
        """Per-target verdicts on every captured call, in ``world`` (see the replay harness)."""
        command = {
            "cmd": "check",
            "targets": list(keys),
            "rel_tol": rel_tol,
            "abs_tol": abs_tol,
            "world": world,
        }
        targets = self.ask(command).get("targets")
        if not isinstance(targets, dict) or set(targets) != set(keys):
            raise ReplayError(f"the {self.side} replay answered 'check' for other targets")
        return targets

    def time_ns(self, key: str, loops: int, calls: Sequence[int], world: str = NATIVE) -> int:
        """Total nanoseconds of ``loops`` runs of each listed call, in ``world``."""
        command = {"cmd": "time", "target": key, "loops": loops, "calls": list(calls)}
        ns = self.ask(command | {"world": world}).get("ns")
        if not isinstance(ns, int) or ns < 0:
            raise ReplayError(f"the {self.side} replay answered 'time' without a duration")
        return ns

    def load_other(self, root: Path, modules: Sequence[str]) -> list[str]:
        """Import a second copy of the project from worktree ``root`` (the ``other`` world).

        Returns the module names of the copy; a copy that cannot be made is a ReplayError.
        """
        command = {"cmd": "load_other", "root": str(root), "modules": list(modules)}
        loaded = self.ask(command).get("modules")
        if not isinstance(loaded, list) or not loaded:
            raise ReplayError(f"the {self.side} replay loaded no second copy of the project")
        return [str(name) for name in loaded]

    def close(self) -> None:
        """Ask the process to quit, then kill its group whatever it did."""
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.flush()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=1)
        sandbox.stop(self.proc)
        for thread in self._threads:
            thread.join(timeout=1)

    def __enter__(self) -> ReplayProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
