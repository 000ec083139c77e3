"""Gate 6: the project still works as a whole.

Runs the configured integration command in the candidate's project folder; without one,
imports every changed module in a fresh interpreter (catching import-time breakage the
unit tests might not reach).
"""

from __future__ import annotations

import json

from bot.core import sandbox
from bot.core.testrun import import_path_env, module_name, with_interpreter
from validators.context import GateContext, Verdict, failed, passed
from validators.paths import changed_python_files

NAME = "integration"

_IMPORT_CHECK = """
import importlib, json, sys
failures = []
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failures.append(f"{name}: {type(exc).__name__}: {exc}")
print(json.dumps(failures))
"""


def check(ctx: GateContext) -> Verdict:
    command = ctx.request.integration_command
    if command:
        done = sandbox.run(
            with_interpreter(command, ctx.request.interpreter),
            ctx.candidate_project,
            timeout=ctx.request.limits.test_timeout,
            kind="integration",
            request=ctx.request,
        )
        if done.timed_out:
            return failed(
                f"integration command timed out after {ctx.request.limits.test_timeout:g}s"
            )
        if done.returncode != 0:
            return failed(f"integration command exited {done.returncode}: {done.tail(1)}")
        return passed(f"integration command {' '.join(command)!r} passed")
    modules = changed_modules(ctx)
    if not modules:
        return passed("no changed importable modules to check")
    done = sandbox.run(
        [ctx.request.interpreter, "-c", _IMPORT_CHECK, json.dumps(modules)],
        ctx.candidate_project,
        timeout=ctx.request.limits.tool_timeout,
        kind="integration",
        env=import_path_env(ctx.baseline.import_roots, ctx.candidate_project),
        request=ctx.request,
    )
    if not done.ok:
        return failed(f"import check did not finish: {done.tail(1)}")
    problems = json.loads(done.stdout.strip().splitlines()[-1])
    if problems:
        return failed(f"import failed: {problems[0]}", failures=problems)
    return passed(f"{len(modules)} changed module(s) import cleanly: {', '.join(modules)}")


def changed_modules(ctx: GateContext) -> list[str]:
    """Dotted names of the changed files that the test run could import."""
    names = (module_name(rel, ctx.baseline.import_roots) for rel in changed_python_files(ctx))
    return [n for n in names if n is not None]
