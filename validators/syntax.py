"""Gate 1: every changed Python file parses and compiles.

The files are compiled by the target's own interpreter, not the bot's: a change that uses
syntax newer than the project's Python must fail here, and compiling never runs the code.
"""

from __future__ import annotations

import json

from bot.core import sandbox
from validators.context import GateContext, Verdict, failed, passed
from validators.paths import changed_python_files

NAME = "syntax"

# Runs under the target's interpreter, whatever its version: no f-strings, no walrus.
_COMPILE_SCRIPT = """
import json, sys
errors = []
for index, path in enumerate(json.load(sys.stdin)):
    try:
        with open(path, "rb") as handle:
            compile(handle.read(), path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OSError) as exc:
        line = getattr(exc, "lineno", None) or 0
        text = getattr(exc, "msg", None) or str(exc)
        errors.append([index, line, "%s: %s" % (type(exc).__name__, text)])
print(json.dumps(errors))
"""


def check(ctx: GateContext) -> Verdict:
    """Fail on the first changed file the target's interpreter cannot compile."""
    files = [f for f in changed_python_files(ctx) if (ctx.candidate_project / f).is_file()]
    if not files:
        return passed("no changed Python files to compile")
    timeout = ctx.request.limits.tool_timeout
    argv = [ctx.request.interpreter, "-I", "-c", _COMPILE_SCRIPT]
    try:
        done = sandbox.run(
            argv,
            ctx.candidate_project,
            timeout=timeout,
            kind="compile",
            stdin=json.dumps(files),
            request=ctx.request,
        )
    except OSError as exc:
        return failed(f"cannot start the target interpreter {ctx.request.interpreter}: {exc}")
    if done.timed_out:
        return failed(f"compiling the changed files timed out after {timeout:g} s")
    try:
        errors = [
            (files[int(i)], int(line), " ".join(str(msg).split()))
            for i, line, msg in json.loads(done.stdout)
        ]
    except (ValueError, TypeError, IndexError):
        return failed(
            f"the target interpreter could not compile the files (exit {done.returncode}): "
            f"{done.tail(1) or 'no output'}"
        )
    if not errors:
        return passed(f"{len(files)} changed file(s) compile", files=files)
    file, line, message = errors[0]
    where = f"{file}:{line}" if line else file
    more = f" (and {len(errors) - 1} more file(s))" if len(errors) > 1 else ""
    return failed(
        f"{where}: {message}{more}",
        errors=[{"file": f, "line": n, "message": m} for f, n, m in errors],
    )
