"""Figures a person would put on a slide: MOS histograms (original vs balanced), feedback lengths (Fig. 3b),
word cloud (Fig. 3c), top low-level words (Fig. 3d), attributes per source, conclusions per MOS band.

Built on matplotlib's object API (Figure, no pyplot): no global state, safe from any thread.
"""
from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from .balance import histogram
from .dataset import StatsDataset
from .text import MOS_BANDS, NO_CONCLUSION, TextStats

PALETTE = ["#3b6ea8", "#e07b39", "#5a9e4b", "#b8474c", "#8b6bb3", "#8c7b5a", "#d17fb8", "#7f7f7f"]
LEVEL_COLOURS = {"excellent": "#2f7d32", "good": "#7cb342", "fair": "#fbc02d", "poor": "#ef6c00", "bad": "#c62828",
                 NO_CONCLUSION: "#bdbdbd"}


def _figure(width: float = 7.0, height: float = 4.0) -> Figure:
    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    figure.patch.set_facecolor("white")
    return figure


def _empty(figure: Figure, message: str) -> Figure:
    axes = figure.add_subplot()
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#666")
    axes.set_axis_off()
    return figure


def mos_histograms(original: StatsDataset, sampled: StatsDataset | None = None, bins: int = 10) -> Figure:
    sources = original.source_names()
    figure = _figure(3.2 * max(1, min(len(sources), 4)), 2.9 * ((len(sources) + 3) // 4 or 1))
    if not sources:
        return _empty(figure, "no MOS in the selection")
    edges = np.linspace(0, 100, bins + 1)
    for k, source in enumerate(sources):
        axes = figure.add_subplot((len(sources) + 3) // 4, min(len(sources), 4), k + 1)
        before = histogram(original.filter([source]).mos_array, bins)
        axes.bar(edges[:-1], before, width=100 / bins, align="edge", color="#9fb7d3", edgecolor="white",
                 label=f"original ({before.sum():,})")
        if sampled is not None:
            after = histogram(sampled.filter([source]).mos_array, bins)
            axes.bar(edges[:-1], after, width=100 / bins, align="edge", color="#3b6ea8", edgecolor="white",
                     label=f"balanced ({after.sum():,})")
        axes.set_title(source, fontsize=10)
        axes.set_xlabel("MOS (0–100)")
        axes.set_xlim(0, 100)
        axes.legend(fontsize=7, frameon=False)
    figure.suptitle("MOS distribution per source", fontsize=11)
    return figure


def length_histogram(stats: TextStats) -> Figure:
    figure = _figure()
    if not stats.n_feedbacks:
        return _empty(figure, "no feedbacks in the selection")
    axes = figure.add_subplot()
    lengths = stats.words_per_feedback
    axes.hist(lengths, bins=np.arange(0, lengths.max() + 6, 5), color="#3b6ea8", edgecolor="white")
    axes.axvline(stats.mean_words, color="#e07b39", linestyle="--", label=f"mean {stats.mean_words:.1f} words")
    axes.set_xlabel("words per feedback")
    axes.set_ylabel("feedbacks")
    axes.set_title(f"Feedback length ({stats.n_feedbacks:,} feedbacks)")
    axes.legend(frameon=False)
    return figure


def word_cloud(stats: TextStats, width: int = 900, height: int = 450) -> Image.Image:
    from wordcloud import WordCloud

    if not stats.word_frequencies:
        return Image.new("RGB", (width, height), "white")
    cloud = WordCloud(width=width, height=height, background_color="white", max_words=150, random_state=0,
                      colormap="viridis", prefer_horizontal=0.9)
    return cloud.generate_from_frequencies(dict(stats.word_frequencies.most_common(400))).to_image()


def top_lowlevel_words(stats: TextStats, k: int = 20) -> Figure:
    figure = _figure(7.0, 4.6)
    common = stats.lowlevel_terms.most_common(k)
    if not common:
        return _empty(figure, "no low-level words found")
    axes = figure.add_subplot()
    terms, counts = zip(*reversed(common))
    axes.barh(terms, counts, color="#5a9e4b")
    axes.set_xlabel("occurrences")
    axes.set_title(f"Top {len(common)} low-level words")
    return figure


def attribute_heatmap(stats: TextStats) -> Figure:
    figure = _figure(8.0, 1.2 + 0.45 * max(1, len(stats.attribute_share)))
    if not stats.attribute_share:
        return _empty(figure, "no feedbacks in the selection")
    sources = list(stats.attribute_share)
    attributes = list(next(iter(stats.attribute_share.values())))
    matrix = np.array([[stats.attribute_share[s][a] for a in attributes] for s in sources])
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(attributes)), attributes, rotation=40, ha="right", fontsize=8)
    axes.set_yticks(range(len(sources)), sources, fontsize=8)
    for i in range(len(sources)):
        for j in range(len(attributes)):
            axes.text(j, i, f"{matrix[i, j]:.0%}", ha="center", va="center", fontsize=6,
                      color="white" if matrix[i, j] > 0.6 else "black")
    figure.colorbar(image, ax=axes, label="share mentioning it")
    axes.set_title("Low-level attributes per source")
    return figure


def conclusion_bars(stats: TextStats, levels: tuple[str, ...]) -> Figure:
    figure = _figure()
    totals = {band: sum(stats.conclusion_by_band.get(band, {}).values()) for band in MOS_BANDS}
    if not any(totals.values()):
        return _empty(figure, "no feedbacks with MOS in the selection")
    axes = figure.add_subplot()
    bottom = np.zeros(len(MOS_BANDS))
    for level in (*levels, NO_CONCLUSION):
        share = np.array([stats.conclusion_by_band[b][level] / totals[b] if totals[b] else 0 for b in MOS_BANDS])
        axes.bar(MOS_BANDS, share, bottom=bottom, color=LEVEL_COLOURS.get(level, "#999"), label=level)
        bottom += share
    axes.set_ylim(0, 1)
    axes.set_xlabel("MOS band")
    axes.set_ylabel("share of feedbacks")
    axes.set_title("Conclusion word by MOS band")
    axes.legend(fontsize=8, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    return figure


def to_png(figure: Figure | Image.Image) -> bytes:
    buffer = io.BytesIO()
    if isinstance(figure, Image.Image):
        figure.save(buffer, format="PNG")
    else:
        figure.savefig(buffer, format="PNG")
    return buffer.getvalue()
