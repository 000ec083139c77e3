"""The performance gate's statistics on seeded synthetic timings (no processes)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.core.request import Thresholds
from validators import perfstats

DEFAULT = Thresholds()


def timings(median_s: float, n: int = 20, spread: float = 0.03, seed: int = 1) -> list[float]:
    """Right-skewed timing samples around ``median_s``, like real per-call measurements."""
    rng = np.random.default_rng(seed)
    noise = rng.lognormal(mean=0.0, sigma=spread, size=n)
    return [float(x) for x in median_s * noise]


def test_median_and_iqr() -> None:
    assert perfstats.median_iqr([1.0, 2.0, 3.0, 4.0, 5.0]) == (3.0, 2.0)


def test_bootstrap_ci_brackets_the_true_ratio_and_is_reproducible() -> None:
    base, candidate = timings(2e-4, seed=1), timings(1e-4, seed=2)
    low, high = perfstats.bootstrap_ratio_ci(base, candidate)
    assert low < 2.0 < high and high - low < 0.1
    assert perfstats.bootstrap_ratio_ci(base, candidate) == (low, high)


def test_clear_speedup_is_accepted() -> None:
    result = perfstats.speedup(timings(2e-4, seed=1), timings(1e-4, seed=2), DEFAULT)
    assert result.significant
    assert result.ratio == pytest.approx(2.0, rel=0.05)
    assert result.p_value < 1e-6 and result.ci_low >= DEFAULT.min_speedup
    assert result.min_ratio == DEFAULT.min_speedup
    assert result.summary(" faster").startswith("2.0")


def test_same_distribution_is_rejected() -> None:
    for seed in range(20):
        base, candidate = timings(1e-4, seed=seed), timings(1e-4, seed=seed + 100)
        assert not perfstats.speedup(base, candidate, DEFAULT).significant
        assert not perfstats.slowdown(base, candidate, DEFAULT).significant


def test_significant_but_too_small_gain_is_rejected() -> None:
    base, candidate = timings(1.02e-4, spread=0.002, seed=1), timings(1e-4, spread=0.002, seed=2)
    result = perfstats.speedup(base, candidate, DEFAULT)
    assert result.p_value < DEFAULT.p_value  # real, but only 2 %
    assert not result.significant


def test_fast_calls_need_the_larger_speedup() -> None:
    """An 8 % gain counts on a 50 µs call but not on a 5 µs one (timer noise dominates)."""
    slow_call = perfstats.speedup(
        timings(54e-6, spread=0.005, seed=1), timings(50e-6, spread=0.005, seed=2), DEFAULT
    )
    fast_call = perfstats.speedup(
        timings(5.4e-6, spread=0.005, seed=1), timings(5e-6, spread=0.005, seed=2), DEFAULT
    )
    assert slow_call.significant and slow_call.min_ratio == DEFAULT.min_speedup
    assert not fast_call.significant and fast_call.min_ratio == DEFAULT.min_speedup_fast_call
    assert fast_call.p_value < DEFAULT.p_value and fast_call.ci_low > DEFAULT.min_speedup


def test_slowdown_is_a_regression() -> None:
    result = perfstats.slowdown(timings(1e-4, seed=1), timings(1.5e-4, seed=2), DEFAULT)
    assert result.significant and result.ratio == pytest.approx(1.5, rel=0.05)
    assert not perfstats.speedup(
        timings(1e-4, seed=1), timings(1.5e-4, seed=2), DEFAULT
    ).significant


def test_too_few_samples_prove_nothing() -> None:
    assert perfstats.p_greater([2.0], [1.0]) == 1.0
    assert not perfstats.speedup([2e-4], [1e-4], DEFAULT).significant
