"""What the statistics read: rows of (image, source, MOS on [0, 100], feedbacks), from any supported file.

A file is named on the command line as FILE or FILE=SOURCE.  MOS lists and Q-Bench outputs have no source
field, so the source is the given name or the file's stem; Q-Pathway files carry theirs.  Scores are rescaled
to [0, 100]: by a factor the user declares (--scale SOURCE=FACTOR) or one inferred from the scores' range
(max <= 1: x100, <= 5: x20, <= 10: x10, else as is).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ConfigError
from ..data.kinds import item_kind
from ..data.loaders import DataError, detect_format, stream_items


@dataclass
class StatsDataset:
    images: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    mos: list[float] = field(default_factory=list)  # NaN when unknown
    feedbacks: list[list[str]] = field(default_factory=list)
    scales: dict[str, float] = field(default_factory=dict)  # factor applied per source
    origin: dict[str, tuple[str, str]] = field(default_factory=dict)  # source -> (file, format)
    problems: list[str] = field(default_factory=list)  # per-file summaries of skipped items

    def __len__(self) -> int:
        return len(self.images)

    @property
    def mos_array(self) -> np.ndarray:
        return np.asarray(self.mos, dtype=np.float64)

    def source_names(self) -> list[str]:
        return list(dict.fromkeys(self.sources))

    def subset(self, indices) -> StatsDataset:
        pick = list(indices)
        return StatsDataset([self.images[i] for i in pick], [self.sources[i] for i in pick],
                            [self.mos[i] for i in pick], [self.feedbacks[i] for i in pick], dict(self.scales),
                            dict(self.origin))

    def filter(self, sources: list[str] | None = None, mos_min: float | None = None,
               mos_max: float | None = None) -> StatsDataset:
        """Rows of the given sources whose MOS lies in [mos_min, mos_max] (rows without MOS are kept only
        when no MOS bound is set)."""
        keep = []
        wanted = set(sources) if sources else None
        for i, (source, mos) in enumerate(zip(self.sources, self.mos)):
            if wanted is not None and source not in wanted:
                continue
            if (mos_min is not None or mos_max is not None) and np.isnan(mos):
                continue
            if mos_min is not None and mos < mos_min or mos_max is not None and mos > mos_max:
                continue
            keep.append(i)
        return self.subset(keep)


def infer_scale(scores: np.ndarray) -> float:
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return 1.0
    top = float(finite.max())
    return 100.0 if top <= 1 else 20.0 if top <= 5 else 10.0 if top <= 10 else 1.0


def parse_file_spec(spec: str) -> tuple[str, str | None]:
    path, sep, source = spec.partition("=")
    return path, (source or None) if sep else None


def parse_scales(specs: list[str] | None) -> dict[str, float]:
    scales = {}
    for spec in specs or []:
        source, sep, factor = spec.partition("=")
        try:
            scales[source] = float(factor)
        except ValueError:
            raise ConfigError(f"--scale expects SOURCE=FACTOR, got {spec!r}") from None
        if not sep or not source or scales[source] <= 0:
            raise ConfigError(f"--scale expects SOURCE=FACTOR with a positive factor, got {spec!r}")
    return scales


def load_inputs(config) -> StatsDataset:
    """The files of a statistics job (a StatsInput config), from a cache while they are unchanged."""
    stamps = []
    for spec in config.files:
        path = parse_file_spec(spec)[0]
        try:
            stamps.append(os.stat(path).st_mtime_ns)
        except OSError:
            stamps.append(0)  # the loader reports the missing file
    return _load_cached(tuple(config.files), tuple(config.scales), bool(config.skip_invalid), tuple(stamps))


@functools.lru_cache(maxsize=8)
def _load_cached(files: tuple[str, ...], scales: tuple[str, ...], skip_invalid: bool,
                 stamps: tuple[int, ...]) -> StatsDataset:
    # stamps (modification times) make an edited file load again; callers never modify the dataset
    return load_stats_dataset(list(files), parse_scales(list(scales)), skip_invalid)


def _instruction_row(item, source: str) -> tuple:
    """An instruction item as a row: its pathway answer (a long "describe and evaluate" answer in the Q-Instruct
    release) is a feedback of its image."""
    score = item.meta.get("gt_score")
    try:
        mos = float(score) if score is not None else np.nan
    except (TypeError, ValueError):
        mos = np.nan
    feedbacks = [t.value for t in item.conversations if t.role == "gpt"] if item_kind(item) == "pathway" else []
    return item.image or "", source, mos, feedbacks


def _per_image(rows: list[tuple]) -> list[tuple]:
    """One row per image (an instruction file has many items per image): its feedbacks gathered, its MOS the
    first one given."""
    merged: dict[tuple[str, str], list] = {}
    for image, source, mos, feedbacks in rows:
        row = merged.setdefault((image, source), [image, source, mos, []])
        row[3] += feedbacks
        if np.isnan(row[2]) and not np.isnan(mos):
            row[2] = mos
    return [tuple(row) for row in merged.values()]


def load_stats_dataset(specs: list[str], scales: dict[str, float] | None = None,
                       skip_invalid: bool = False) -> StatsDataset:
    """Read every FILE[=SOURCE] into one dataset; MOS rescaled per source to [0, 100]."""
    scales = dict(scales or {})
    data = StatsDataset()
    for spec in specs:
        path, source = parse_file_spec(spec)
        fmt = detect_format(path)
        if fmt == "llvisionqa":
            raise DataError(path, "LLVisionQA questions carry no MOS or feedback; nothing to count")
        items = stream_items(path, fmt, skip_invalid=skip_invalid)  # straight into rows: the file is held once
        default_source = source or Path(path).stem
        rows = []
        for item in items:
            if fmt == "pathway":
                rows.append((item.image, source or item.source, np.nan if item.mos is None else item.mos,
                             item.feedbacks))
            elif fmt in ("instructions", "sharegpt"):
                rows.append(_instruction_row(item, default_source))
            else:  # mos, qbench-outputs
                rows.append((item.img_path, default_source, item.gt_score, []))
        if items.skipped:
            data.problems.append(items.result([]).summary())
        if fmt in ("instructions", "sharegpt"):
            rows = _per_image(rows)
        by_source: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            by_source.setdefault(row[1], []).append(i)
        for name, indices in by_source.items():
            raw = np.array([rows[i][2] for i in indices], dtype=np.float64)
            # pathway MOS is on [0, 100] by definition; other formats keep their own scale
            factor = scales.get(name, 1.0 if fmt == "pathway" else infer_scale(raw))
            data.scales[name] = factor
            data.origin[name] = (str(path), fmt)
            for i, score in zip(indices, raw * factor):
                image, _, _, feedbacks = rows[i]
                data.images.append(image)
                data.sources.append(name)
                data.mos.append(float(score))
                data.feedbacks.append(feedbacks)
    return data
