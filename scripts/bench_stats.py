#!/usr/bin/env python
"""Benchmark: every statistic and figure on a synthetic dataset of the paper's size, and loading 200K items.

Builds (in a temporary folder) a Q-Pathway file of 18,973 images with ~58K synthetic feedbacks across 7
sources, then times, in one run:
  ours  - load + compute_report + render every figure and table to disk (what the Statistics tab does);
  plain - the straightforward way: per-feedback term search, wordcloud.WordCloud.generate on the raw text.
Also times loading and validating a 200K-item Q-Instruct JSON file.

    .venv/bin/python -m scripts.bench_stats
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from qinstruct.corrupt import list_corruptions
from qinstruct.data.loaders import load_instructions
from qinstruct.data.vocabulary import load_vocabulary
from qinstruct.demo.feedback import write_feedbacks
from qinstruct.demo.scenes import COLOURS, PHOTOS, POSITIONS, SHAPES
from qinstruct.demo.world import synthetic_mos
from qinstruct.stats.dataset import load_stats_dataset
from qinstruct.stats.report import StatsConfig, compute_report, export_report

IMAGES, FEEDBACKS = 18_973, 58_000
SOURCES = ["koniq", "spaq", "livefb", "livec", "agiqa-3k", "imagerewarddb", "coco-15"]


def random_content(rng: np.random.Generator) -> dict:
    if rng.random() < 0.5:
        count = int(rng.integers(1, 4))
        return {"kind": "scene", "background": "clutter", "objects": [
            {"shape": SHAPES[int(rng.integers(4))], "colour": sorted(COLOURS)[int(rng.integers(6))],
             "position": list(POSITIONS.values())[int(rng.integers(9))]} for _ in range(count)]}
    subject, category = list(PHOTOS.values())[int(rng.integers(len(PHOTOS)))]
    return {"kind": "photo", "photo": "x", "subject": subject, "category": category}


def make_dataset(path: Path) -> None:
    rng = np.random.default_rng(0)
    common = list_corruptions("common")
    extra = FEEDBACKS - 3 * IMAGES  # images that get a 4th feedback
    with path.open("w") as handle:
        for i in range(IMAGES):
            corruption = None if rng.random() < 0.1 else common[int(rng.integers(15))]
            severity = int(rng.integers(1, 6)) if corruption else 0
            mos = synthetic_mos(rng, "scenes", corruption, severity)
            feedbacks = write_feedbacks(rng, random_content(rng), corruption, severity, mos, 4 if i < extra else 3)
            handle.write(json.dumps({"image": f"{i}.jpg", "source": SOURCES[i % 7], "mos": mos,
                                     "feedbacks": [t for _, t in feedbacks], "synthetic": True}) + "\n")


def plain_statistics(path: Path) -> None:
    """What one would write first: per-feedback substring search and WordCloud's own text processing."""
    from wordcloud import WordCloud

    rows = [json.loads(line) for line in path.open()]
    vocabulary = load_vocabulary()
    terms = list(vocabulary.term_to_attribute)
    counts, lengths = Counter(), []
    for row in rows:
        for text in row["feedbacks"]:
            lower = text.lower()
            lengths.append(len(text.split()))
            for term in terms:
                counts[term] += lower.count(term)
    WordCloud(width=900, height=450, max_words=150, random_state=0).generate(
        " ".join(t for r in rows for t in r["feedbacks"]))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pathway = tmp / "pathway.jsonl"
        make_dataset(pathway)
        n_feedbacks = sum(len(json.loads(line)["feedbacks"]) for line in pathway.open())

        tic = time.perf_counter()
        data = load_stats_dataset([str(pathway)])
        report = compute_report(data, StatsConfig(files=[str(pathway)], out=str(tmp / "report"), budget=2000))
        export_report(report, tmp / "report")
        ours = time.perf_counter() - tic

        tic = time.perf_counter()
        plain_statistics(pathway)
        plain = time.perf_counter() - tic

        items = [{"id": str(i), "image": f"img/{i % 997}.jpg", "conversations": [
            {"from": "human", "value": "<image>\nDescribe and evaluate the quality of the image."},
            {"from": "gpt", "value": "The image is slightly blurred. Thus, the quality of the image is fair."}],
            "type": "pathway"} for i in range(200_000)]
        big = tmp / "q_instruct_200k.json"
        big.write_text(json.dumps(items))
        tic = time.perf_counter()
        loaded = load_instructions(big)
        load_200k = time.perf_counter() - tic

    print(f"# bench_stats: {IMAGES:,} images, {n_feedbacks:,} feedbacks, 7 sources")
    print(f"ours  (load + Table 1 + balance + text stats + 6 figures + CSV/Markdown export): {ours:.2f} s")
    print(f"plain (term counts + WordCloud.generate only, no figures): {plain:.2f} s  -> ratio {plain / ours:.1f}x")
    print(f"load + validate 200,000 Q-Instruct items: {load_200k:.2f} s ({len(loaded.items):,} items)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
