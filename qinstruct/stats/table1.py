"""Table 1 of the paper: per source, size and the mean / population std of MOS on [0, 100]."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .dataset import StatsDataset


@dataclass
class SourceStats:
    source: str
    size: int
    mean: float | None
    std: float | None  # population standard deviation (ddof = 0), as the paper's figures are computed

    def as_dict(self) -> dict:
        return asdict(self)


def table1(data: StatsDataset) -> list[SourceStats]:
    rows = []
    mos = data.mos_array
    sources = np.asarray(data.sources, dtype=object)
    for source in data.source_names():
        scores = mos[sources == source]
        scores = scores[np.isfinite(scores)]
        size = int((sources == source).sum())
        if scores.size:
            rows.append(SourceStats(source, size, round(float(scores.mean()), 2), round(float(scores.std()), 2)))
        else:
            rows.append(SourceStats(source, size, None, None))
    return rows


def format_table1(original: list[SourceStats], sampled: list[SourceStats] | None = None) -> str:
    """Markdown table; with `sampled`, the paper's layout of original vs sampled columns."""
    def cell(value):
        return "–" if value is None else f"{value:.2f}"

    by_source = {row.source: row for row in sampled or []}
    if sampled is None:
        lines = ["| source | size | μ (MOS) | σ (MOS) |", "|---|---:|---:|---:|"]
        lines += [f"| {r.source} | {r.size:,} | {cell(r.mean)} | {cell(r.std)} |" for r in original]
    else:
        lines = ["| source | size | μ | σ | sampled size | sampled μ | sampled σ |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for r in original:
            s = by_source.get(r.source)
            lines.append(f"| {r.source} | {r.size:,} | {cell(r.mean)} | {cell(r.std)} | "
                         + (f"{s.size:,} | {cell(s.mean)} | {cell(s.std)} |" if s else "– | – | – |"))
    return "\n".join(lines)
