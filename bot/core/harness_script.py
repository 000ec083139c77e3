"""Run one of the one-shot harness scripts and read its answer: one copy of the steps.

The purity check, the line profile, the edge-case attack and the mutant diff each run a
script from ``bot/core/harness/`` with the target's interpreter, in the sandbox, in one
checkout: settings go in as a JSON file, the answer comes back as a JSON object written to
``out``. Only the script unpickles captured data; the bot reads the JSON. The hash seed is
fixed, so set and dict orders (and the reprs built on them) agree between processes.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core import sandbox
from bot.core.harness import HARNESS_DIR
from bot.core.request import Request
from bot.core.testrun import import_path_env


@dataclass(frozen=True)
class ScriptAnswer:
    """The script's JSON object, or None with the reason (``timed_out`` when it hung)."""

    answer: dict[str, Any] | None
    problem: str = ""
    timed_out: bool = False


def run_script(
    request: Request,
    script: str,
    project: Path,
    settings: Mapping[str, Any],
    *,
    import_roots: Sequence[str],
    kind: str,
    readable: Sequence[Path] = (),
    files: Mapping[str, Any] | None = None,
    out: Path | None = None,
) -> ScriptAnswer:
    """Run ``script`` with ``settings`` (plus ``out``) in ``project``; its answer.

    ``files`` are written as JSON into the call's scratch folder, each named in the settings
    by its key (data too large for the settings, the script's only other place to read);
    ``out`` keeps the answer beyond the call (its folder becomes writable), else it is
    written in the scratch folder and read back before that goes.
    """
    with tempfile.TemporaryDirectory(prefix=f"selfimprove-{kind}-") as scratch:
        folder = Path(scratch)
        answer_file = out or folder / "answer.json"
        named = {}
        for name, data in (files or {}).items():
            path = folder / f"{name}.json"
            path.write_text(json.dumps(data))
            named[name] = str(path)
        settings_file = folder / "settings.json"
        settings_file.write_text(json.dumps({**settings, **named, "out": str(answer_file)}))
        done = sandbox.run(
            [request.interpreter, str(HARNESS_DIR / script), str(settings_file)],
            project,
            timeout=request.limits.replay_timeout,
            kind=kind,
            env={"PYTHONHASHSEED": "0", **import_path_env(import_roots, project)},
            request=request,
            writable=(folder, *((answer_file.parent,) if out else ())),
            readable=tuple(readable),
        )
        if done.timed_out:
            seconds = request.limits.replay_timeout
            return ScriptAnswer(None, f"did not finish in {seconds:g}s", timed_out=True)
        if not done.ok:
            return ScriptAnswer(None, f"exited {done.returncode}: {done.tail(3) or 'no output'}")
        try:
            answer = json.loads(answer_file.read_text())
        except OSError:
            return ScriptAnswer(None, "wrote no answer")
        except ValueError:
            return ScriptAnswer(None, "wrote an unreadable answer")
    if not isinstance(answer, dict):
        return ScriptAnswer(None, "wrote an unreadable answer")
    return ScriptAnswer(answer)
