"""In-process A/B timing end to end: two copies of a real project in one replay process."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.candidate import Target
from tests.conftest import GateBench
from tests.validators.test_performance import (
    COUNT,
    KNOWN_SET,
    LOOKUP_TESTS,
    MOD,
    PYPROJECT,
    QUICK,
    SLOW_TOTAL,
    lookup,
)
from validators import performance

USE = "src/pkg/use.py"
GRAND_TOTAL = Target(USE, "pkg.use", "grand_total")
USE_SOURCE = """from pkg.mod import Stats


def grand_total(values):
    return Stats().total(values)
"""
USE_TESTS = """from pkg.use import grand_total


def test_grand_total():
    assert grand_total(list(range(500))) == 124750
"""


def test_regression_in_a_caller_in_an_unchanged_module_is_caught_in_process(
    gate_bench: Callable[..., GateBench],
) -> None:
    """The base copy of ``pkg.use`` imports the base copy of ``pkg.mod``: its real call path."""
    files = {
        "proj/pyproject.toml": PYPROJECT,
        f"proj/{MOD}": lookup(),
        f"proj/{USE}": USE_SOURCE,
        "proj/src/pkg/__init__.py": "",
        "proj/tests/test_mod.py": LOOKUP_TESTS,
        "proj/tests/test_use.py": USE_TESTS,
    }
    bench = gate_bench(files, project="proj", capture=(COUNT, GRAND_TOTAL), thresholds=QUICK)
    ctx = bench.context({MOD: lookup(known=KNOWN_SET, total=SLOW_TOTAL)}, target=COUNT)
    verdict = performance.check(ctx)
    assert not verdict.passed
    assert verdict.reason.startswith(f"the change slows {GRAND_TOTAL.key}: "), verdict.reason
    caller = verdict.details["other_targets"][GRAND_TOTAL.key]
    assert caller["timing_method"] == "in-process" and caller["ratio"] > 2
    assert verdict.details["timing_method"] == "in-process" and verdict.details["ratio"] > 2


PACKAGE_INIT = """from .mod import KNOWN


def count_in_init(items):
    return sum(1 for x in items if x in KNOWN)
"""
INIT_TESTS = """from pkg import count_in_init


def test_count_in_init():
    for n in range(1, 6):
        assert count_in_init(list(range(-300 * n, -300 * (n - 1)))) == 0
"""


def test_a_change_to_a_package_init_is_timed_in_process(
    gate_bench: Callable[..., GateBench],
) -> None:
    """The copy re-imports the package itself, so its relative imports stay inside the copy."""
    init = Target("src/pkg/__init__.py", "pkg", "count_in_init")
    files = {
        "proj/pyproject.toml": PYPROJECT,
        f"proj/{MOD}": lookup(),
        "proj/src/pkg/__init__.py": PACKAGE_INIT,
        "proj/tests/test_init.py": INIT_TESTS,
    }
    bench = gate_bench(files, project="proj", capture=(init,), thresholds=QUICK)
    faster = PACKAGE_INIT.replace("in KNOWN)", "in _KNOWN)") + "\n\n_KNOWN = frozenset(KNOWN)\n"
    verdict = performance.check(bench.context({"src/pkg/__init__.py": faster}, target=init))
    assert verdict.passed, verdict.reason
    assert verdict.details["timing_method"] == "in-process" and verdict.details["ratio"] > 2


ONCE = """import builtins

if getattr(builtins, "_pkg_mod_loaded", False):
    raise RuntimeError("pkg.mod must be imported once per process")
builtins._pkg_mod_loaded = True
"""
SHARED_HOOK = """import builtins

_HOOKS = builtins.__dict__.setdefault("_pkg_hooks", [])


def _zero(x):
    return 0


_HOOKS.append(_zero)  # a process-wide registry: the first copy's hook wins
"""


def test_in_process_timing_falls_back_to_fresh_pairs_and_says_why(
    gate_bench: Callable[..., GateBench],
) -> None:
    """A project that cannot be imported twice, or whose copies share state, is not A/B-timed."""
    cases = {
        ONCE: "in-process timing failed: the candidate A/B replay failed: RuntimeError: "
        "'pkg.mod must be imported once per process'",
        SHARED_HOOK: "the base copy ran code of the other worktree: ",
    }
    for prefix, why in cases.items():
        hooked = " if x in KNOWN" if prefix is ONCE else " if x in KNOWN and not _HOOKS[0](x)"
        files = {
            "proj/pyproject.toml": PYPROJECT,
            f"proj/{MOD}": prefix + lookup(test=hooked),
            "proj/src/pkg/__init__.py": "",
            "proj/tests/test_mod.py": LOOKUP_TESTS,
        }
        bench = gate_bench(files, project="proj", capture=(COUNT,), thresholds=QUICK)
        faster = prefix + lookup(known=KNOWN_SET, test=hooked)
        verdict = performance.check(bench.context({MOD: faster}, target=COUNT))
        assert verdict.passed, verdict.reason  # still proven, the old way
        assert verdict.details["timing_method"] == "fresh-pairs"
        assert verdict.details["timing_fallback"].startswith(why), verdict.details
        assert "processes" not in verdict.details
