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


def paired(
    base_s: float,
    candidate_s: float,
    *,
    processes: int = 4,
    pairs: int = 20,
    offset: float = 0.2,
    spread: float = 0.03,
    seed: int = 1,
) -> list[list[tuple[float, float]]]:
    """In-process pairs: each process slows *both* sides by its own offset (up to ``offset``).

    Each pair also shares a burst factor, as when both halves of a pair hit the same
    interrupt or drift; only the per-sample noise differs between the two halves.
    """
    rng = np.random.default_rng(seed)
    groups = []
    for _ in range(processes):
        factor = 1 + rng.uniform(-offset, offset)
        shared = rng.lognormal(0.0, spread * 2, size=pairs)
        noise = rng.lognormal(0.0, spread, size=(pairs, 2))
        groups.append(
            [
                (base_s * factor * s * b, candidate_s * factor * s * c)
                for s, (b, c) in zip(shared, noise, strict=True)
            ]
        )
    return groups


def test_paired_speedup_survives_process_offsets() -> None:
    """A 10 % gain is proven although processes differ by up to 20 % among themselves."""
    result = perfstats.paired_speedup(paired(1.1e-4, 1e-4), DEFAULT)
    assert result.significant
    assert result.ratio == pytest.approx(1.1, rel=0.03)
    assert result.ci_low >= DEFAULT.min_speedup and result.p_value < DEFAULT.p_value
    assert result.base_median_s > result.candidate_median_s


def test_paired_same_code_is_rejected_both_ways() -> None:
    for seed in range(20):
        groups = paired(1e-4, 1e-4, seed=seed)
        assert not perfstats.paired_speedup(groups, DEFAULT).significant
        assert not perfstats.paired_slowdown(groups, DEFAULT).significant


def test_paired_slowdown_is_a_regression() -> None:
    result = perfstats.paired_slowdown(paired(1e-4, 1.3e-4), DEFAULT)
    assert result.significant and result.ratio == pytest.approx(1.3, rel=0.03)
    assert not perfstats.paired_speedup(paired(1e-4, 1.3e-4), DEFAULT).significant


def test_one_lucky_process_cannot_carry_a_claim() -> None:
    """Three processes see nothing and one sees 1.3x: the CI resamples processes, so no."""
    groups = paired(1e-4, 1e-4, processes=3, offset=0.0, spread=0.005)
    groups += paired(1.3e-4, 1e-4, processes=1, offset=0.0, spread=0.005, seed=9)
    result = perfstats.paired_speedup(groups, DEFAULT)
    assert result.ci_low < DEFAULT.min_speedup and not result.significant
    pooled = perfstats.bootstrap_ratio_ci(
        [b for g in groups for b, _ in g], [c for g in groups for _, c in g]
    )
    assert result.ci_high - result.ci_low > pooled[1] - pooled[0]


def test_paired_samples_must_be_rectangular() -> None:
    with pytest.raises(ValueError):
        perfstats.paired_speedup([[(2e-4, 1e-4)], []], DEFAULT)
    with pytest.raises(ValueError):
        perfstats.paired_speedup([], DEFAULT)


def test_drift_within_a_process_neither_hides_a_gain_nor_makes_one() -> None:
    """A process that slows by 60 % while it runs: local levels take the drift out."""
    rng = np.random.default_rng(3)
    drift = np.linspace(0.8, 1.4, 20)

    def drifting(gain: float) -> list[list[tuple[float, float]]]:
        noise = rng.lognormal(0.0, 0.02, size=(4, 20, 2))
        return [
            [(1e-4 * gain * d * b, 1e-4 * d * c) for d, (b, c) in zip(drift, row, strict=True)]
            for row in noise
        ]

    assert perfstats.paired_speedup(drifting(1.1), DEFAULT).p_value < 1e-6
    levels = perfstats.local_levels(np.asarray(drifting(1.0)))
    assert levels.shape == (4, 20) and levels[0, -1] > 1.5 * levels[0, 0]
    for _ in range(10):
        assert not perfstats.paired_speedup(drifting(1.0), DEFAULT).significant


def at_look(groups: list[list[tuple[float, float]]]) -> perfstats.Comparison:
    return perfstats.paired_speedup(groups, DEFAULT, perfstats.LOOK_CONFIDENCE)


def test_futility_bound_stops_a_slower_or_equal_candidate_but_not_a_real_gain() -> None:
    """At the first look (two processes, ten pairs each): 0.9x and 1.0x stop, 1.09x goes on."""
    for seed in range(20):
        look = {"processes": 2, "pairs": 10, "spread": 0.01, "seed": seed}
        slower = at_look(paired(0.9e-4, 1e-4, **look))
        same = at_look(paired(1e-4, 1e-4, **look))
        gain = at_look(paired(1.09e-4, 1e-4, **look))
        assert perfstats.futile(slower) and perfstats.futile(same)
        assert not perfstats.futile(gain) and gain.ci_high > DEFAULT.min_speedup


def test_one_process_that_sees_the_gain_keeps_the_run_going() -> None:
    """The look resamples processes: one at 1.0x and one at 1.1x is not yet hopeless."""
    quiet = {"processes": 1, "pairs": 10, "offset": 0.0, "spread": 0.005}
    groups = paired(1e-4, 1e-4, **quiet) + paired(1.1e-4, 1e-4, **quiet, seed=2)
    mixed = at_look(groups)
    assert mixed.ci_low < DEFAULT.min_speedup < mixed.ci_high and not perfstats.futile(mixed)
    assert mixed.summary().startswith(f"{mixed.ratio:.2f}x (80% CI ")
    assert perfstats.futile(at_look(groups[:1] * 2))
