"""DeQA-Score's soft labels: an image's MOS and its raters' standard deviation as a distribution over the five
quality levels, the target its `soft` recipe trains the level word towards (the losses: train/scorer_objectives.py).

The MOS and deviation, mapped to 1-5, define a Gaussian; its density at each level (pdf: sets with widely spread
scores, KonIQ and KADID) or its mass over each level's interval (cdf: narrow ones, SPAQ) is rescaled affinely so
that the levels' expectation is the MOS again; where the deviation is too small for that, or the rescaling still
misses the MOS, two neighbouring levels share the mass linearly.  Level order: excellent .. bad (the original's).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

LEVEL_VALUES = (5.0, 4.0, 3.0, 2.0, 1.0)
DENSITIES = ("pdf", "cdf")  # pdf: wide-spread MOS sets (KonIQ, KADID); cdf: narrow ones (SPAQ) -- DeQA's appendix


@dataclass(frozen=True)
class LevelTarget:
    probs: tuple[float, ...]  # over QUALITY_LEVELS (excellent .. bad)
    mos: float  # on 1-5
    std: float  # on the 1-5 scale
    one_hot_pair: bool  # the deviation was too small for a Gaussian: two neighbouring levels share the mass

    @property
    def expectation(self) -> float:
        return sum(p * v for p, v in zip(self.probs, LEVEL_VALUES))


def _normal_pdf(x: float, mean: float, std: float) -> float:
    return math.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def _normal_cdf(x: float, mean: float, std: float) -> float:
    return 0.5 * (1 + math.erf((x - mean) / (std * math.sqrt(2))))


def neighbour_levels(mos: float) -> tuple[float, ...]:
    """MOS (1-5) split between the two levels around it, linearly: 3.25 -> fair 0.75, good 0.25."""
    mos = min(max(mos, 1.0), 5.0)
    low = min(int(math.floor(mos)), 4)  # 5.0 belongs to the good-excellent interval
    upper_share = mos - low
    probs = [0.0] * 5
    probs[LEVEL_VALUES.index(float(low))] = 1 - upper_share
    probs[LEVEL_VALUES.index(float(low + 1))] = upper_share
    return tuple(probs)


def soft_level_target(mos: float, std: float, lowest: float, highest: float, density: str = "pdf",
                      min_std: float = 0.2, max_gap: float = 0.1) -> LevelTarget:
    """DeQA-Score's soft label of one image: its MOS and standard deviation (on the set's own scale,
    `lowest`..`highest`) mapped to 1-5, the Gaussian's density (pdf) or interval mass (cdf) at each level, then
    an affine rescaling (alpha * p + beta, clipped at 0) that makes the levels' expectation the MOS again.
    Too small a deviation (< `min_std` on 1-5), or a rescaling that still misses the MOS by more than `max_gap`,
    gives the neighbouring-level pair instead.  As in the original, masses the rescaling makes negative are set
    to 0 without renormalising (the target then sums to a little over 1: 1.017 for MOS 12 ± 14 of 100)."""
    if density not in DENSITIES:
        raise ValueError(f"density must be one of {DENSITIES}, got {density!r}")
    if not highest > lowest:
        raise ValueError(f"the MOS range is empty ({lowest} .. {highest}): constant scores cannot be tuned on")
    if not (math.isfinite(mos) and math.isfinite(std)) or std < 0:
        raise ValueError(f"a MOS and a standard deviation must be finite numbers (std >= 0), got {mos}, {std}")
    span = highest - lowest
    mean, spread = 4 * (mos - lowest) / span + 1, 4 * std / span
    if spread >= min_std:
        if density == "pdf":
            raw = [_normal_pdf(v, mean, spread) for v in LEVEL_VALUES]
        else:
            raw = [_normal_cdf(v + 0.5, mean, spread) - _normal_cdf(v - 0.5, mean, spread) for v in LEVEL_VALUES]
        total, moment = sum(raw), sum(p * v for p, v in zip(raw, LEVEL_VALUES))
        # alpha * total + 5 beta = 1 and alpha * moment + 15 beta = mean: a distribution whose expectation is mean
        alpha = (mean - 3) / (moment - 3 * total + 1e-9)
        beta = (1 - alpha * total) / 5
        probs = tuple(max(alpha * p + beta, 0.0) for p in raw)
        if abs(sum(p * v for p, v in zip(probs, LEVEL_VALUES)) - mean) <= max_gap:
            return LevelTarget(probs, mean, spread, False)
    return LevelTarget(neighbour_levels(mean), mean, spread, True)
