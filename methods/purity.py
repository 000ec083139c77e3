"""Whether a target may be memoised, from its captured calls: the bot's side of
``bot/core/harness/selfimprove_purity.py``.

A cache only pays when arguments repeat, so the capture is first read here for calls with
byte-identical pickled arguments (no unpickling in the bot); only then does the harness
run the calls in the base worktree and judge purity. The verdict is kept in the run's
baseline cache, so asking again for the same target costs nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from bot.core.candidate import Target
from bot.core.harness_script import run_script
from bot.core.method import MethodContext
from methods.codemods import Memo

SCRIPT = "selfimprove_purity.py"
# A cache miss costs more than the call alone (the key, the lookup, the store): below this
# share of repeats among the captured calls the cached function is rarely faster.
MIN_REPEAT_SHARE = 0.5


def memo_for(ctx: MethodContext, target: Target) -> Memo | None:
    """The captured calls' case for caching ``target``; None when there is none.

    Only plain module-level functions whose captured calls repeat arguments are judged, and
    only when at least :data:`MIN_REPEAT_SHARE` of them are repeats.
    A harness that fails says so through ``ctx.note`` and gives None.
    """
    baseline = ctx.baseline
    capture = baseline.capture_file
    if capture is None or "." in target.qualname or "<" in target.qualname:
        return None
    key = ("purity", target.key)
    if key not in baseline.cache:
        baseline.cache[key] = _judged(ctx, target, capture)
    memo = baseline.cache[key]
    return memo if isinstance(memo, Memo) else None


def _judged(ctx: MethodContext, target: Target, capture: Path) -> Memo | None:
    if not repeats_arguments(capture, target.key):
        return None
    answer = verdict(ctx, capture, target.key)
    if answer is None or answer.get("reason") is not None:
        return None
    calls, distinct = int(answer["calls"]), int(answer["distinct"])
    if calls < 2 or calls - distinct < MIN_REPEAT_SHARE * calls:
        return None
    return Memo(calls=calls, distinct=distinct, entry_bytes=int(answer["entry_bytes"]))


def repeats_arguments(capture: Path, key: str) -> bool:
    """True when two captured calls of ``key`` pickled the very same arguments."""
    try:
        records = json.loads(capture.read_text()).get(key, {}).get("calls", [])
    except (OSError, ValueError, AttributeError):
        return False
    counts = Counter(str(r.get("args", "")) for r in records if isinstance(r, dict))
    return any(n > 1 for n in counts.values())


def verdict(ctx: MethodContext, capture: Path, key: str) -> dict[str, Any] | None:
    """The harness's answer on ``key`` (see its docstring); None when it gave none."""
    request, baseline = ctx.request, ctx.baseline
    ran = run_script(
        request,
        SCRIPT,
        request.project_path(baseline.root),
        {"records": str(capture), "target": key},
        import_roots=baseline.import_roots,
        kind="purity",
        readable=(capture,),
    )
    if ran.answer is None:
        ctx.note(f"could not judge whether {key} may be cached: the check {ran.problem}")
    return ran.answer
