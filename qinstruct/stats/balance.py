"""MOS-balancing sub-sampler: the paper sub-samples each source "to reduce the skews in their MOS
distributions".  Under a per-source budget we keep the flattest histogram possible: water-filling over MOS
bins (every bin keeps min(count, t) items, t chosen so the budget is met exactly), then a uniform random pick
inside each bin.  Same data + budget + bins + seed -> the same sample.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, check_config
from .dataset import StatsDataset


@dataclass
class BalanceConfig:
    budget: int  # items kept per source (a source smaller than the budget is kept whole)
    bins: int = 10
    seed: int = 0
    budgets: dict | None = None  # per-source overrides {source: budget}

    def validate(self) -> None:
        if self.budget < 1 or any(b < 1 for b in (self.budgets or {}).values()):
            raise ConfigError("budgets must be at least 1")
        if not 2 <= self.bins <= 100:
            raise ConfigError("bins must be in 2..100")


def bin_index(scores: np.ndarray, bins: int) -> np.ndarray:
    return np.clip((scores / 100.0 * bins).astype(int), 0, bins - 1)


def water_fill(counts: np.ndarray, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Per-bin allocations summing to min(budget, counts.sum()), as equal as the counts allow."""
    counts = np.asarray(counts, dtype=np.int64)
    if budget >= counts.sum():
        return counts.copy()
    level_low, level_high = 0, int(counts.max())
    while level_low < level_high:  # the largest integer level t with sum(min(c, t)) <= budget
        mid = (level_low + level_high + 1) // 2
        if np.minimum(counts, mid).sum() <= budget:
            level_low = mid
        else:
            level_high = mid - 1
    alloc = np.minimum(counts, level_low)
    remaining = budget - int(alloc.sum())
    open_bins = np.flatnonzero(counts > alloc)
    alloc[rng.choice(open_bins, size=remaining, replace=False)] += 1  # one more in `remaining` random bins
    return alloc


def balance_indices(scores: np.ndarray, budget: int, bins: int, rng: np.random.Generator) -> np.ndarray:
    finite = np.flatnonzero(np.isfinite(scores))
    which = bin_index(scores[finite], bins)
    counts = np.bincount(which, minlength=bins)
    alloc = water_fill(counts, budget, rng)
    chosen = [rng.choice(finite[which == b], size=int(alloc[b]), replace=False) for b in range(bins) if alloc[b]]
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)


def balance(data: StatsDataset, config: BalanceConfig) -> StatsDataset:
    """The balanced sample of `data` (rows without MOS are dropped: they cannot be balanced)."""
    config.validate()
    sources = np.asarray(data.sources, dtype=object)
    mos = data.mos_array
    keep = []
    for k, source in enumerate(data.source_names()):
        rows = np.flatnonzero(sources == source)
        budget = (config.budgets or {}).get(source, config.budget)
        rng = np.random.default_rng([config.seed, k])
        keep.extend(rows[balance_indices(mos[rows], budget, config.bins, rng)].tolist())
    return data.subset(sorted(keep))


def histogram(scores: np.ndarray, bins: int = 10) -> np.ndarray:
    finite = scores[np.isfinite(scores)]
    return np.bincount(bin_index(finite, bins), minlength=bins)


def flatness(counts: np.ndarray) -> float:
    """Normalised entropy of a histogram: 1.0 for perfectly flat, lower for skewed."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0 or (counts > 0).sum() < 2:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum() / np.log(len(counts)))


def run_balance_job(config) -> list[str]:
    """The `qinstruct stats balance` job (a BalanceJobConfig): write the balanced MOS list to config.out;
    returns one line per source (items before -> after, histogram flatness)."""
    from ..fileio import write_json
    from .dataset import load_inputs

    check_config(config)
    default, per_source = config.budgets()
    data = load_inputs(config)
    if default is None:
        default = max(len(data), 1)  # only the named sources are cut
    sampled = balance(data, BalanceConfig(default, config.bins, config.seed, per_source))
    write_json(config.out, [{"img_path": i, "gt_score": round(m, 4), "source": s}
                            for i, m, s in zip(sampled.images, sampled.mos, sampled.sources)])
    lines = []
    for source in data.source_names():
        before = histogram(data.filter([source]).mos_array, config.bins)
        after = histogram(sampled.filter([source]).mos_array, config.bins)
        lines.append(f"{source}: {before.sum()} -> {after.sum()} items; flatness {flatness(before):.3f} -> "
                     f"{flatness(after):.3f}; histogram {after.tolist()}")
    return lines
