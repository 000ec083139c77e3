"""Memoisation end to end: a real suite's captured calls decide, real replays time it fairly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.core.candidate import Target
from bot.core.evaluation import Evaluation
from bot.core.method import MethodContext
from methods import purity
from methods.codemod_generator import CodemodGenerator
from tests.conftest import GateBench, close_bench, commit_files, open_bench
from validators import perftiming
from validators.replay_client import ReplayProcess

MOD = "src/pkg/geo.py"
GEO = '''"""Shapes, and functions that must not be cached."""

import math

_SEEN = []


def area(r):
    total = 0.0
    for i in range(3000):
        total += math.sqrt(r * r + i)
    return total


def tally(x):
    _SEEN.append(x)
    return len(_SEEN)


def spread(xs):
    return max(xs) - min(xs)


def pair(n):
    return [n, n]


def squares(n):
    return (i * i for i in range(n))


def fresh(n):
    total = 0.0
    for i in range(3000):
        total += math.sqrt(n + i)
    return total
'''
TESTS = """from pkg.geo import area, fresh, pair, spread, squares, tally


def test_geo():
    for _ in range(4):
        for r in range(1, 6):
            assert area(r) > 0
            assert spread([r, 2 * r]) == r
            assert pair(r) == [r, r]
            assert list(squares(r))[-1] == (r - 1) ** 2
        assert tally(1) >= 1
    for n in range(20):
        assert fresh(n) > 0
"""
FILES = {
    "proj/pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    "proj/src/pkg/__init__.py": "",
    f"proj/{MOD}": GEO,
    "proj/tests/test_geo.py": TESTS,
}
NAMES = ("area", "tally", "spread", "pair", "fresh", "squares")
TARGETS = {name: Target(MOD, "pkg.geo", name) for name in NAMES}


def _unused(candidate: object) -> Evaluation:
    raise AssertionError("the generator must not evaluate")


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateBench]:
    root = tmp_path_factory.mktemp("purity") / "repo"
    root.mkdir()
    commit_files(root, FILES)
    opened = open_bench(root, "proj", capture=tuple(TARGETS.values()))
    yield opened
    close_bench(opened)


def _context(bench: GateBench, notes: list[str]) -> MethodContext:
    return MethodContext(bench.request, bench.baseline, _unused, notes.append, CodemodGenerator())


def test_a_pure_function_with_repeats_is_cached_and_says_what_it_costs(bench: GateBench) -> None:
    notes: list[str] = []
    ctx = _context(bench, notes)
    found = CodemodGenerator().propose(ctx, TARGETS["area"], method="test")
    memo = [c for c in found if c.rule == "memoise"]
    assert len(memo) == 1, [c.rule for c in found]
    assert "+@functools.lru_cache(maxsize=1024, typed=True)" in memo[0].diff
    assert "+import functools" in memo[0].diff
    assert "repeat earlier arguments" in memo[0].description
    assert "Memory cost: at most 1024 entries of about" in memo[0].description
    assert notes == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("tally", "gives another result on a repeat call"),
        ("spread", "argument 0 is unhashable (list)"),
        ("pair", "returns a mutable list"),
        ("squares", "returns a generator: a cached one is exhausted after its first caller"),
    ],
)
def test_impure_calls_are_refused(bench: GateBench, name: str, reason: str) -> None:
    notes: list[str] = []
    ctx = _context(bench, notes)
    capture = bench.baseline.capture_file
    assert capture is not None and purity.repeats_arguments(capture, TARGETS[name].key)
    answer = purity.verdict(ctx, capture, TARGETS[name].key)
    assert answer is not None and reason in str(answer["reason"])
    found = CodemodGenerator().propose(ctx, TARGETS[name], method="test")
    assert all(c.rule != "memoise" for c in found)


def test_no_repeats_means_no_cache(bench: GateBench) -> None:
    capture = bench.baseline.capture_file
    assert capture is not None
    assert not purity.repeats_arguments(capture, TARGETS["fresh"].key)
    assert purity.memo_for(_context(bench, []), TARGETS["fresh"]) is None


def test_replays_follow_the_recorded_repeats(bench: GateBench) -> None:
    """A cached candidate is timed pass by pass from an empty cache: its gain is the
    capture's repeats (about 4x for ``area``, none for ``fresh``), not ``loops``-fold."""
    cached = GEO.replace("def area", "@functools.lru_cache(typed=True)\ndef area")
    cached = cached.replace("def fresh", "@functools.lru_cache(typed=True)\ndef fresh")
    cached = cached.replace("import math", "import functools\nimport math")
    ctx = bench.context({MOD: cached}, TARGETS["area"])
    capture = bench.baseline.capture_file
    assert capture is not None
    loops = 20
    ratios = {}
    with perftiming.pair(ctx, capture) as (base, candidate):
        for name in ("area", "fresh"):
            key = TARGETS[name].key
            calls = list(range(bench.baseline.captured_calls[key]))
            sides: list[ReplayProcess] = [base, candidate]
            ns = [min(p.time_ns(key, loops, calls) for _ in range(3)) for p in sides]
            ratios[name] = ns[0] / ns[1]
    assert 2.0 < ratios["area"] < 8.0, ratios
    assert 0.6 < ratios["fresh"] < 1.6, ratios
