"""One call computes every statistic and figure of a selection; another writes them as PNG, CSV and Markdown."""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..config import check_config
from ..data.vocabulary import load_vocabulary
from ..fileio import write_files_and_zip
from . import figures
from .balance import BalanceConfig, balance, flatness, histogram
from .config import StatsConfig
from .dataset import StatsDataset, load_inputs
from .table1 import SourceStats, format_table1, table1
from .text import MOS_BANDS, NO_CONCLUSION, TextStats, text_stats


@dataclass(frozen=True)
class FigureKind:
    name: str  # the PNG's name and the key of StatsReport.images
    label: str  # what the figure is (the studio's caption)
    wide: bool  # a row of its own in the studio


# every figure of a report, in the order the studio lays them out
FIGURES = [FigureKind("mos_histograms", "MOS per source (original vs balanced)", True),
           FigureKind("feedback_lengths", "Feedback length (Fig. 3b)", False),
           FigureKind("word_cloud", "Word cloud (Fig. 3c)", False),
           FigureKind("lowlevel_words", "Top low-level words (Fig. 3d)", False),
           FigureKind("conclusion_by_mos", "Conclusion by MOS band", False),
           FigureKind("attributes_per_source", "Attributes per source", True)]


@dataclass
class StatsReport:
    data: StatsDataset
    sampled: StatsDataset | None
    table: list[SourceStats]
    sampled_table: list[SourceStats] | None
    text: TextStats
    images: dict[str, Image.Image | object]  # name -> PIL image or matplotlib Figure
    seconds: float
    bins: int

    def flatness(self) -> dict[str, tuple[float, float | None]]:
        out = {}
        for source in self.data.source_names():
            before = flatness(histogram(self.data.filter([source]).mos_array, self.bins))
            after = (flatness(histogram(self.sampled.filter([source]).mos_array, self.bins))
                     if self.sampled is not None else None)
            out[source] = (round(before, 3), None if after is None else round(after, 3))
        return out


def compute_report(data: StatsDataset, config: StatsConfig) -> StatsReport:
    """Filter, balance (if asked), and compute Table 1, text statistics and every figure."""
    check_config(config)
    started = time.perf_counter()
    selected = data.filter(config.sources or None, config.mos_min if config.filters_mos else None,
                           config.mos_max if config.filters_mos else None)
    sampled = balance(selected, BalanceConfig(config.budget, config.bins, config.seed)) if config.budget else None
    text = text_stats(selected)
    levels = load_vocabulary().quality_levels
    made = {"mos_histograms": lambda: figures.mos_histograms(selected, sampled, config.bins),
            "feedback_lengths": lambda: figures.length_histogram(text), "word_cloud": lambda: figures.word_cloud(text),
            "lowlevel_words": lambda: figures.top_lowlevel_words(text),
            "conclusion_by_mos": lambda: figures.conclusion_bars(text, levels),
            "attributes_per_source": lambda: figures.attribute_heatmap(text)}
    images = {figure.name: made[figure.name]() for figure in FIGURES}
    return StatsReport(selected, sampled, table1(selected), table1(sampled) if sampled is not None else None, text,
                       images, time.perf_counter() - started, config.bins)


def _csv(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def report_tables(report: StatsReport) -> dict[str, str]:
    """CSV text of every table behind the figures."""
    text = report.text
    tables = {"table1.csv": _csv([["source", "size", "mean", "std", "sampled_size", "sampled_mean", "sampled_std"]]
                                 + [[r.source, r.size, r.mean, r.std, *_sampled(report, r.source)]
                                    for r in report.table])}
    tables["feedback_lengths.csv"] = _csv([["words", "feedbacks"]] + sorted(
        [[int(k), int(v)] for k, v in zip(*np.unique(text.words_per_feedback, return_counts=True))]))
    tables["lowlevel_words.csv"] = _csv([["term", "count"]] + [list(x) for x in text.lowlevel_terms.most_common()])
    attributes = list(next(iter(text.attribute_share.values()))) if text.attribute_share else []
    tables["attributes_per_source.csv"] = _csv([["source", *attributes]] + [
        [s, *[shares[a] for a in attributes]] for s, shares in text.attribute_share.items()])
    levels = (*load_vocabulary().quality_levels, NO_CONCLUSION)
    tables["conclusion_by_mos.csv"] = _csv([["mos_band", *levels]] + [
        [band, *[text.conclusion_by_band[band][lv] for lv in levels]] for band in MOS_BANDS])
    return tables


def _sampled(report: StatsReport, source: str) -> list:
    if report.sampled_table is None:
        return ["", "", ""]
    row = next((r for r in report.sampled_table if r.source == source), None)
    return [row.size, row.mean, row.std] if row else [0, "", ""]


def report_markdown(report: StatsReport) -> str:
    text = report.text
    lines = ["# Dataset statistics", "",
             f"{len(report.data):,} images from {len(report.data.source_names())} source(s); "
             f"{text.n_feedbacks:,} feedbacks, {text.mean_words:.1f} words on average.", "",
             "## Table 1: MOS per source (on [0, 100], population σ)", "",
             format_table1(report.table, report.sampled_table), ""]
    scales = {s: f for s, f in report.data.scales.items() if f != 1.0}
    if scales:
        lines += ["Rescaled to [0, 100]: " + ", ".join(f"{s} ×{f:g}" for s, f in scales.items()), ""]
    if report.sampled is not None:
        lines += ["Histogram flatness (normalised entropy, 1 = flat), original → balanced: " + ", ".join(
            f"{s} {b:.3f} → {a:.3f}" for s, (b, a) in report.flatness().items()), ""]
    lines += ["![MOS histograms](mos_histograms.png)", "",
              "## Feedbacks", "", "![Lengths](feedback_lengths.png)", "", "![Word cloud](word_cloud.png)", "",
              "![Top low-level words](lowlevel_words.png)", "",
              "Top low-level words: " + ", ".join(f"{t} ({c:,})" for t, c in text.lowlevel_terms.most_common(10)),
              "", "![Attributes per source](attributes_per_source.png)", "",
              "![Conclusion by MOS band](conclusion_by_mos.png)", ""]
    if any(report.data.origin.get(s, ("", ""))[1] == "pathway" for s in report.data.source_names()):
        lines += ["Feedbacks of the embedded demo world are synthetic (written from known corruptions).", ""]
    return "\n".join(lines)  # no timings: the same data and config give the same bytes


def export_report(report: StatsReport, out_dir: Path) -> Path:
    """Write every figure (PNG), table (CSV) and report.md into out_dir, plus report.zip of them all; the same
    report gives the same bytes (the archive carries a fixed date)."""
    files: dict[str, bytes] = {f"{name}.png": figures.to_png(image) for name, image in report.images.items()}
    files.update({name: content.encode() for name, content in report_tables(report).items()})
    files["report.md"] = report_markdown(report).encode()
    return write_files_and_zip(out_dir, files)


def run_report(config: StatsConfig) -> tuple[StatsReport, Path]:
    """The `qinstruct stats report` job: load, compute, write into config.out; returns the report and its zip."""
    check_config(config)
    report = compute_report(load_inputs(config), config)
    return report, export_report(report, Path(config.out))
