"""What an accepted change is worth to the whole program, and the lines that say so first.

Expected gain = the target's inclusive share of the profiled suite time x (1 - 1/speed-up):
a 4x gain on a function that takes 20% of the time saves 15%; a 1.06x gain on one that takes
0.01% saves nothing anyone will notice. The impact floor (``min-impact``) compares this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.evaluation import Evaluation
from bot.report.results import timing_json


@dataclass(frozen=True)
class Impact:
    """One change's share of the profile, speed-up (with its CI) and expected gain."""

    share: float | None  # None: the target was named, not profiled
    speedup: float | None
    ci: tuple[float, float] | None

    @property
    def gain(self) -> float | None:
        """Expected whole-program gain as a fraction of the profiled time."""
        if self.share is None or not self.speedup or self.speedup <= 0:
            return None
        return self.share * (1.0 - 1.0 / self.speedup)

    def meets(self, floor: float) -> bool:
        """Whether the change clears ``floor``; an unknown share never holds a change back."""
        gain = self.gain
        return gain is None or gain >= floor


def impact_of(evaluation: Evaluation) -> Impact:
    """The impact of one evaluated change, from its target and performance gate."""
    timing = timing_json(evaluation)
    ratio = timing.get("ratio")
    low, high = timing.get("ci_low"), timing.get("ci_high")
    ci = (
        (float(low), float(high))
        if isinstance(low, int | float) and isinstance(high, int | float)
        else None
    )
    return Impact(
        share=evaluation.candidate.target.profile_share,
        speedup=float(ratio) if isinstance(ratio, int | float) else None,
        ci=ci,
    )


def percent(value: float | None) -> str:
    """``12.3%``, or ``unknown``."""
    return "unknown" if value is None else f"{value * 100:.2f}%"


def impact_line(evaluation: Evaluation, calls_pinned: int | None) -> str:
    """One Markdown line: share, speed-up with CI, expected gain, pins, guards, mutation score."""
    impact = impact_of(evaluation)
    speed = "no timed speed-up" if impact.speedup is None else f"{impact.speedup:.2f}x"
    if impact.ci is not None:
        speed += f" (95% CI {impact.ci[0]:.2f}-{impact.ci[1]:.2f})"
    parts = [
        f"`{evaluation.candidate.target.key}`: {percent(impact.share)} of the profile",
        speed,
        f"expected gain **{percent(impact.gain)}** of the whole program",
    ]
    if calls_pinned is not None:
        parts.append(f"{calls_pinned} calls pinned")
    unit = evaluation.result("unit")
    if unit is not None:
        parts.append(f"guarded by {unit.reason}")
    provenance = evaluation.candidate.provenance
    if "mutation_score_before" in provenance:
        before = provenance["mutation_score_before"]
        after = provenance.get("mutation_score_after", "?")
        parts.append(f"mutation score {before} → {after}")
    return "- " + "; ".join(parts)


def impact_section(lines: Sequence[str]) -> list[str]:
    """The heading and lines a pull request body opens with."""
    return ["**Impact**", "", *lines] if lines else []
