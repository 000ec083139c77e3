"""Calls that return generators: recorded as their callers consume them, replayed by the
performance gate on the same items, in a real suite run and real replay subprocesses."""

from __future__ import annotations

import base64
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.candidate import Target
from bot.core.request import Thresholds
from methods import attack
from tests.conftest import GateBench, close_bench, commit_files, open_bench
from validators import performance

QUICK = Thresholds(rounds=10, sample_seconds=0.004)
MOD = "src/pkg/gens.py"
GENS = '''"""Generators, and a function that returns a generator expression."""


def primes(n):
    """Primes below ``n`` by trial division (slow on purpose: a candidate is faster)."""
    for k in range(2, n):
        if all(k % d for d in range(2, k)):
            yield k


def evens(n):
    return (i for i in range(0, n, 2))


def count_up(n):
    i = 0
    while i < n:
        yield i
        i += 1


def fail_after(n):
    yield from range(n)
    raise ValueError(f"after {n}")


def echo():
    got = yield "ready"
    while got is not None:
        got = yield got * 2
'''
TESTS = """import itertools

import pytest

from pkg.gens import count_up, echo, evens, fail_after, primes


def test_primes():
    assert list(primes(600))[:3] == [2, 3, 5]
    assert next(itertools.islice(primes(500), 3, None)) == 7  # takes four items, then stops


def test_evens():
    assert list(evens(7)) == [0, 2, 4, 6]


def test_count_up_past_the_cap():
    assert sum(count_up(10_005)) == 10_005 * 10_004 // 2


def test_close():
    gen = count_up(5)
    assert gen.__qualname__ == "count_up" and repr(gen).startswith("<generator object count_up")
    assert next(gen) == 0
    gen.close()
    with pytest.raises(StopIteration):
        next(gen)


def test_fail_after():
    seen = []
    with pytest.raises(ValueError, match="after 2"):
        for x in fail_after(2):
            seen.append(x)
    assert seen == [0, 1]


def test_echo():
    gen = echo()
    assert next(gen) == "ready"
    assert gen.send(3) == 6
    with pytest.raises(KeyError):
        gen.throw(KeyError("thrown"))
"""
FILES = {
    "proj/pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    "proj/src/pkg/__init__.py": "",
    f"proj/{MOD}": GENS,
    "proj/tests/test_gens.py": TESTS,
}
NAMES = ("primes", "evens", "count_up", "fail_after", "echo")
TARGETS = {name: Target(MOD, "pkg.gens", name) for name in NAMES}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateBench]:
    root = tmp_path_factory.mktemp("generators") / "repo"
    root.mkdir()
    commit_files(root, FILES)
    opened = open_bench(root, "proj", capture=tuple(TARGETS.values()), thresholds=QUICK)
    yield opened
    close_bench(opened)


def _captures(bench: GateBench) -> dict[str, Any]:
    assert bench.baseline.capture_file is not None
    found: dict[str, Any] = json.loads(bench.baseline.capture_file.read_text())
    return found


def _calls(bench: GateBench, name: str) -> list[tuple[Any, ...]]:
    """(arguments, items, yields, exhausted, outcome) of each recorded call of ``name``."""
    return [
        (
            pickle.loads(base64.b64decode(c["args"]))[0],  # the test's own capture
            pickle.loads(base64.b64decode(c["result"])),
            c["yields"],
            c["exhausted"],
            c["outcome"],
        )
        for c in _captures(bench)[TARGETS[name].key]["calls"]
    ]


def test_the_items_a_caller_takes_are_recorded(bench: GateBench) -> None:
    """Whole runs, an early stop (the prefix taken), a generator expression, an error."""
    assert bench.baseline.test_outcomes and set(bench.baseline.test_outcomes.values()) == {
        "passed"
    }  # every caller saw what it saw before: items, close, send, throw
    below_600 = [k for k in range(2, 600) if all(k % d for d in range(2, k))]
    assert _calls(bench, "primes") == [
        ((600,), below_600, 109, True, "return"),
        ((500,), [2, 3, 5, 7], 4, False, "return"),
    ]
    assert _calls(bench, "evens") == [((7,), [0, 2, 4, 6], 4, True, "return")]
    assert _calls(bench, "fail_after") == [((2,), [0, 1], 2, True, "raise")]
    (raised,) = _captures(bench)[TARGETS["fail_after"].key]["calls"]
    assert raised["error"] == {"type": "builtins.ValueError", "message": "after 2"}
    assert raised["result_repr"] == "yields [0, 1]"


def test_the_cap_stops_the_record_not_the_items(bench: GateBench) -> None:
    (long, closed) = _calls(bench, "count_up")
    assert long[0] == (10_005,) and long[2:] == (10_000, False, "return")
    assert long[1] == list(range(10_000))
    assert closed == ((5,), [0], 1, False, "return")


def test_a_call_the_caller_sends_values_to_is_not_recorded(bench: GateBench) -> None:
    echo = _captures(bench)[TARGETS["echo"].key]
    assert echo["calls"] == [] and echo["seen"] == 1 and echo["unpicklable"] == 1


def test_a_generator_yielding_another_item_is_rejected(bench: GateBench) -> None:
    key = TARGETS["primes"].key
    wrong = bench.context({MOD: GENS.replace("range(2, n)", "range(3, n)")}, TARGETS["primes"])
    verdict = performance.check(wrong)
    assert not verdict.passed
    assert verdict.reason == (
        f"behaviour differs on captured call 0 of {key}: the items yielded[0]: 3 != 2"
    )
    eager = GENS.replace(
        "    for k in range(2, n):\n        if all(k % d for d in range(2, k)):\n"
        "            yield k",
        "    return [k for k in range(2, n) if all(k % d for d in range(2, k))]",
    )
    verdict = performance.check(bench.context({MOD: eager}, TARGETS["primes"]))
    assert not verdict.passed
    assert f"of {key}: returned [2, 3, 5" in verdict.reason
    assert verdict.reason.endswith("expected a generator")


def test_a_faster_generator_with_the_same_items_passes(bench: GateBench) -> None:
    """Timing takes the recorded items: a generator that was timed unconsumed would cost
    nothing on either side, and no speed-up could be shown."""
    faster = GENS.replace("range(2, k))", "range(2, int(k**0.5) + 1))")
    verdict = performance.check(bench.context({MOD: faster}, TARGETS["primes"]))
    assert verdict.passed, verdict.reason
    assert verdict.details["calls"] == 2 and verdict.details["ratio"] > 1.5  # unconsumed: ~1


def test_the_attack_takes_a_generators_items_on_its_edge_cases(
    bench: GateBench, tmp_path: Path
) -> None:
    """``abs(n)`` changes nothing for the recorded ``evens(7)``, everything for ``n < 0``."""
    key, roots = TARGETS["evens"].key, bench.baseline.import_roots
    assert bench.baseline.capture_file is not None
    project = bench.request.project_path(bench.baseline.root)
    cases = attack.derive(bench.request, project, bench.baseline.capture_file, key, roots, tmp_path)
    assert cases.count > 5 and not cases.errors
    buggy = bench.context({MOD: GENS.replace("range(0, n, 2)", "range(0, abs(n), 2)")})
    breach = attack.check(bench.request, buggy.candidate_project, cases, roots)
    assert breach is not None and breach.label.startswith("n = -1 ("), breach
    assert breach.reason == "result: length 1 != 0" and breach.failures == 3  # -1, -7, -2**63
    assert breach.checked == 10  # 2**31 and the larger: their first items, no timeout
    same = bench.context({MOD: GENS.replace("range(0, n, 2)", "range(0, n, 2) if i >= 0")})
    assert attack.check(bench.request, same.candidate_project, cases, roots) is None
