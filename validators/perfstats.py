"""The statistics of the performance gate, kept pure so they are tested without processes.

Timing samples are noisy and not normal (a long right tail from interrupts), so the gate
compares medians, tests with Mann-Whitney U (rank-based, no normality assumption) and
bounds the speed-up with a bootstrap confidence interval of the ratio of medians: a
change is accepted only when the gain is both significant and large enough to matter.

Samples come in one of two shapes. Fresh process pairs give two independent samples
(:func:`speedup`, :func:`slowdown`). In-process A/B timing gives, per process, a list of
(base, candidate) pairs timed back to back (:func:`paired_speedup`, :func:`paired_slowdown`):
the ratio is then the median of the per-pair ratios, so drift and bursts that hit both
halves of a pair cancel; the bootstrap resamples processes before pairs, so a process
whose two copies happen to sit unevenly in memory cannot decide alone; and Mann-Whitney
sees each sample scaled by its process's local level (:func:`local_levels`).

The gate is a sequential test with a futility bound (:func:`futile`): after each quarter
of the rounds but the last, a candidate whose ratio CI lies wholly below the floor is
rejected there, since the remaining rounds could not lift it to an accept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import mannwhitneyu

from bot.core.request import Thresholds

RESAMPLES = 4000
CONFIDENCE = 0.95
# The futility look's CI is narrower: the bound is non-binding (it can only reject), so its
# level costs no false positives, only power, which benchmarks/run_example.py measures.
LOOK_CONFIDENCE = 0.80

FIRST_LOOK = 4  # the futility look comes after 1/FIRST_LOOK of the rounds
NEIGHBOURS = 2  # pairs on each side that set a pair's local level (see local_levels)
Groups = Sequence[Sequence[tuple[float, float]]]  # per process: (base_s, candidate_s) per pair


@dataclass(frozen=True)
class Comparison:
    """Base and candidate timings (seconds per call) weighed for one claim.

    For a speed-up ``ratio`` is median(base) / median(candidate), for a slow-down the
    inverse: above 1 when the claim holds. It holds (``significant``) only when ``p_value``
    is under the threshold and the CI's lower bound reaches ``min_ratio``.
    """

    base_median_s: float
    candidate_median_s: float
    base_iqr_s: float
    candidate_iqr_s: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    min_ratio: float
    significant: bool
    confidence: float = CONFIDENCE

    def details(self) -> dict[str, float]:
        return {
            "base_median_s": self.base_median_s,
            "candidate_median_s": self.candidate_median_s,
            "base_iqr_s": self.base_iqr_s,
            "candidate_iqr_s": self.candidate_iqr_s,
            "ratio": self.ratio,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
        }

    def summary(self, suffix: str = "") -> str:
        """E.g. ``1.82x faster (95% CI 1.71-1.93x, p=3e-08)`` for the suffix " faster"."""
        return (
            f"{self.ratio:.2f}x{suffix} ({self.confidence:.0%} CI "
            f"{self.ci_low:.2f}-{self.ci_high:.2f}x, "
            f"p={self.p_value:.1g})"
        )


def median_iqr(samples: Sequence[float]) -> tuple[float, float]:
    """The median and the interquartile range."""
    values = np.asarray(samples, dtype=float)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return float(median), float(q3 - q1)


def bootstrap_ratio_ci(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """A percentile bootstrap CI of median(numerator) / median(denominator).

    The two samples are resampled independently; the seed makes the gate reproducible.
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    rng = np.random.default_rng(seed)
    num_medians = np.median(num[rng.integers(0, num.size, (resamples, num.size))], axis=1)
    den_medians = np.median(den[rng.integers(0, den.size, (resamples, den.size))], axis=1)
    ratios = num_medians / np.maximum(den_medians, np.finfo(float).tiny)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


def p_greater(larger: Sequence[float], smaller: Sequence[float]) -> float:
    """One-sided Mann-Whitney U p-value for "``larger`` tends to be larger than ``smaller``"."""
    if len(larger) < 2 or len(smaller) < 2:
        return 1.0
    result = mannwhitneyu(larger, smaller, alternative="greater")
    p = float(result.pvalue)
    return 1.0 if np.isnan(p) else p


def min_ratio_for(base_median_s: float, thresholds: Thresholds) -> float:
    """The smallest ratio that counts: higher for very fast calls, where timing is coarse."""
    if base_median_s < thresholds.fast_call_seconds:
        return thresholds.min_speedup_fast_call
    return thresholds.min_speedup


def futile(comparison: Comparison) -> bool:
    """True when a speed-up's CI lies wholly below its floor: more rounds cannot rescue it.

    Meant for a comparison made at :data:`LOOK_CONFIDENCE`. The bound is non-binding: it
    only ever turns a would-be accept into a reject, so the false-positive rate cannot
    rise; what it may cost is power, when a real gain's interim CI happens to lie below
    the floor (measured in benchmarks/run_example.py).
    """
    return comparison.ci_high < comparison.min_ratio


def _compare(
    base: Sequence[float],
    candidate: Sequence[float],
    thresholds: Thresholds,
    *,
    speedup: bool,
    confidence: float = CONFIDENCE,
) -> Comparison:
    slower, faster = (base, candidate) if speedup else (candidate, base)
    base_median, base_iqr = median_iqr(base)
    candidate_median, candidate_iqr = median_iqr(candidate)
    slow_median = median_iqr(slower)[0]
    fast_median = median_iqr(faster)[0]
    ratio = slow_median / fast_median if fast_median > 0 else float("inf")
    low, high = bootstrap_ratio_ci(slower, faster, confidence=confidence)
    p = p_greater(slower, faster)
    min_ratio = min_ratio_for(base_median, thresholds)
    return Comparison(
        base_median_s=base_median,
        candidate_median_s=candidate_median,
        base_iqr_s=base_iqr,
        candidate_iqr_s=candidate_iqr,
        ratio=ratio,
        ci_low=low,
        ci_high=high,
        p_value=p,
        min_ratio=min_ratio,
        significant=p < thresholds.p_value and low >= min_ratio,
        confidence=confidence,
    )


def speedup(
    base: Sequence[float],
    candidate: Sequence[float],
    thresholds: Thresholds,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """Is the candidate faster? ``significant`` means accept; ratio = base / candidate."""
    return _compare(base, candidate, thresholds, speedup=True, confidence=confidence)


def slowdown(
    base: Sequence[float], candidate: Sequence[float], thresholds: Thresholds
) -> Comparison:
    """Is the candidate slower? ``significant`` means a regression; ratio = candidate / base."""
    return _compare(base, candidate, thresholds, speedup=False)


def clustered_median_ci(
    values: npt.NDArray[np.float64],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float]:
    """A percentile bootstrap CI of the median of ``values`` (processes x pairs).

    Each resample draws processes with replacement, then pairs within each drawn process,
    so the spread between processes widens the interval as it should.
    """
    groups, size = values.shape
    rng = np.random.default_rng(seed)
    chosen = rng.integers(0, groups, (resamples, groups, 1))
    inner = rng.integers(0, size, (resamples, groups, size))
    medians = np.median(values[chosen, inner].reshape(resamples, -1), axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)


def local_levels(pairs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Per pair, the median of both sides over the ``NEIGHBOURS`` pairs each side of it.

    A process's speed drifts (other load, caches, the heap); scaling both halves of a pair
    by the level around it removes that from the Mann-Whitney test. The pair itself is left
    out, so a pair cannot shrink its own difference; both halves get the same scale, so
    under "no difference" they stay exchangeable.
    """
    groups, size, _ = pairs.shape
    levels = np.empty((groups, size))
    for index in range(size):
        near = range(max(0, index - NEIGHBOURS), min(size, index + NEIGHBOURS + 1))
        others = [j for j in near if j != index] or [index]
        levels[:, index] = np.median(pairs[:, others, :].reshape(groups, -1), axis=1)
    return levels


def _compare_paired(
    groups: Groups, thresholds: Thresholds, *, speedup: bool, confidence: float = CONFIDENCE
) -> Comparison:
    pairs = np.asarray(groups, dtype=float)
    if pairs.ndim != 3 or pairs.shape[2] != 2 or pairs.shape[1] == 0:
        raise ValueError("paired samples need the same number of (base, candidate) pairs")
    base, candidate = pairs[..., 0], pairs[..., 1]
    slower, faster = (base, candidate) if speedup else (candidate, base)
    ratios = slower / np.maximum(faster, np.finfo(float).tiny)
    low, high = clustered_median_ci(ratios, confidence=confidence)
    level = local_levels(pairs)  # process offsets and drift cancel; the pairing stays out
    p = p_greater(list((slower / level).ravel()), list((faster / level).ravel()))
    base_median, base_iqr = median_iqr(list(base.ravel()))
    candidate_median, candidate_iqr = median_iqr(list(candidate.ravel()))
    min_ratio = min_ratio_for(base_median, thresholds)
    return Comparison(
        base_median_s=base_median,
        candidate_median_s=candidate_median,
        base_iqr_s=base_iqr,
        candidate_iqr_s=candidate_iqr,
        ratio=float(np.median(ratios)),
        ci_low=low,
        ci_high=high,
        p_value=p,
        min_ratio=min_ratio,
        significant=p < thresholds.p_value and low >= min_ratio,
        confidence=confidence,
    )


def paired_speedup(
    groups: Groups, thresholds: Thresholds, confidence: float = CONFIDENCE
) -> Comparison:
    """Is the candidate faster, judged on in-process pairs? ratio = median of base/candidate."""
    return _compare_paired(groups, thresholds, speedup=True, confidence=confidence)


def paired_slowdown(groups: Groups, thresholds: Thresholds) -> Comparison:
    """Is the candidate slower, judged on in-process pairs? ratio = median of candidate/base."""
    return _compare_paired(groups, thresholds, speedup=False)
