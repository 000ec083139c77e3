"""Run the target's pytest suite in a worktree, with the harness plugin, and read its report."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from bot.core import sandbox
from bot.core.candidate import Target
from bot.core.errors import UserError
from bot.core.harness import HARNESS_DIR
from bot.core.request import Request

PLUGIN = "selfimprove_pytest"


@dataclass(frozen=True)
class SuiteRun:
    """What one run of the suite told us."""

    completed: sandbox.Completed
    exitstatus: int
    outcomes: dict[str, str]
    import_roots: tuple[str, ...]
    profile: tuple[dict[str, Any], ...] = ()
    captures: dict[str, Any] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def passed(self) -> frozenset[str]:
        return frozenset(t for t, o in self.outcomes.items() if o == "passed")

    @property
    def failed(self) -> frozenset[str]:
        return frozenset(t for t, o in self.outcomes.items() if o == "failed")


def with_interpreter(command: Sequence[str], interpreter: str) -> list[str]:
    """A configured command with the target's interpreter in place of a leading ``python``."""
    argv = list(command)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = interpreter
    return argv


def pytest_argv(request: Request) -> list[str]:
    """The test command with the target's interpreter in place of a leading ``python``."""
    if not request.test_command:
        raise UserError("the test command is empty")
    argv = with_interpreter(request.test_command, request.interpreter)
    if argv[0] in ("pytest", "py.test"):
        argv[:1] = [request.interpreter, "-m", "pytest"]
    if "pytest" not in argv[:3]:
        raise UserError(
            f"the test command {' '.join(request.test_command)!r} does not run pytest, "
            "which selfimprove needs to profile and pin behaviour"
        )
    return argv


def run_suite(
    request: Request,
    root: Path,
    *,
    profile: bool = False,
    capture: Sequence[Target] = (),
    only: Sequence[str] = (),
    select: Sequence[str] = (),
    timeout: float | None = None,
) -> SuiteRun:
    """Run the suite in the checkout at ``root`` (a worktree) and collect the harness report.

    ``only`` adds arguments to the test command (node ids, to re-run failures); ``select``
    runs only these node ids of what the command collects (the command may name paths).
    """
    project = request.project_path(root)
    with tempfile.TemporaryDirectory(prefix="selfimprove-suite-") as scratch:
        report_path = Path(scratch) / "report.json"
        config: dict[str, Any] = {"report": str(report_path), "profile": profile}
        if select:
            config["select"] = list(select)
        if capture:
            config["capture"] = {
                "targets": [{"module": t.module, "qualname": t.qualname} for t in capture],
                "limit": request.limits.max_captured_calls,
            }
        config_path = Path(scratch) / "harness.json"
        config_path.write_text(json.dumps(config))
        argv = [*pytest_argv(request), "-p", PLUGIN, "-p", "no:cacheprovider", *only]
        env = {"PYTHONPATH": str(HARNESS_DIR), "SELFIMPROVE_HARNESS": str(config_path)}
        completed = sandbox.run(
            argv,
            project,
            timeout=timeout or request.limits.test_timeout,
            kind="tests",
            env=env,
            request=request,
            writable=(Path(scratch),),
        )
        report: dict[str, Any] = {}
        if report_path.exists():
            report = json.loads(report_path.read_text())
    exitstatus = int(report.get("exitstatus", completed.returncode))
    return SuiteRun(
        completed=completed,
        exitstatus=exitstatus if not completed.timed_out else -9,
        outcomes=dict(report.get("outcomes", {})),
        import_roots=tuple(report.get("import_roots", ())),
        profile=tuple(report.get("profile", ())),
        captures=dict(report.get("captures", {})),
        errors=tuple(report.get("errors", ())),
    )


def import_path_env(import_roots: Sequence[str], project: Path) -> dict[str, str]:
    """A PYTHONPATH that reproduces the test run's project import roots in ``project``."""
    paths = [str(project / r) if r != "." else str(project) for r in import_roots]
    return {"PYTHONPATH": os.pathsep.join(paths)} if paths else {}


def module_name(rel: str, import_roots: Sequence[str]) -> str | None:
    """The dotted module name of a project file, from the longest import root containing it."""
    path = PurePosixPath(rel)
    for root in sorted(import_roots, key=len, reverse=True):
        try:
            inner = path if root == "." else path.relative_to(root)
        except ValueError:
            continue
        parts = list(inner.with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(p.isidentifier() for p in parts):
            return ".".join(parts)
    return None
