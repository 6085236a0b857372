"""Feedback text statistics (the paper's Fig. 3): lengths, word frequencies, low-level vocabulary, attributes per
source, and which quality conclusion ends a feedback in each MOS band.

All feedbacks are joined into one string and scanned once per regex; match offsets are mapped back to
feedbacks with a binary search, which keeps 58K feedbacks well under a second per statistic.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..data.vocabulary import Vocabulary, load_vocabulary
from .dataset import StatsDataset

WORD = re.compile(r"[a-z][a-z'-]*")
MOS_BANDS = ("[0,20)", "[20,40)", "[40,60)", "[60,80)", "[80,100]")
NO_CONCLUSION = "none"
# common English words left out of the word cloud (wordcloud's own list plus feedback boilerplate)
EXTRA_STOPWORDS = {"image", "picture", "thus", "overall", "quality", "also", "whole", "looks", "look", "still"}


@dataclass
class TextStats:
    n_feedbacks: int
    words_per_feedback: np.ndarray  # one length per feedback
    word_frequencies: Counter  # content words, stopwords removed (word cloud)
    lowlevel_terms: Counter  # vocabulary terms as written
    attribute_share: dict[str, dict[str, float]]  # source -> attribute -> share of its feedbacks mentioning it
    conclusion_by_band: dict[str, Counter]  # MOS band -> Counter(level or "none")

    @property
    def mean_words(self) -> float:
        return float(self.words_per_feedback.mean()) if self.n_feedbacks else 0.0


def mos_band(mos: float) -> str | None:
    if not np.isfinite(mos):
        return None
    return MOS_BANDS[min(4, max(0, int(mos // 20)))]


def conclusion_level(feedback: str, levels: tuple[str, ...]) -> str:
    """The quality word of the last sentence ('Thus, the quality of the image is poor.' -> 'poor')."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", feedback.strip().lower()) if s]
    if not sentences:
        return NO_CONCLUSION
    last = sentences[-1]
    if "quality" not in last and "rate" not in last:
        return NO_CONCLUSION
    found = [w for w in WORD.findall(last) if w in levels]
    return found[-1] if found else NO_CONCLUSION


@functools.lru_cache(maxsize=1)  # read once, not once per block of feedbacks
def _stopwords() -> frozenset[str]:
    from wordcloud import STOPWORDS

    return frozenset(STOPWORDS) | EXTRA_STOPWORDS


BLOCK = 4096  # feedbacks scanned together: one regex pass each, memory of one block


def _count_block(texts: list[str], first: int, vocabulary: Vocabulary, word_frequencies: Counter,
                 lowlevel_terms: Counter, mentions: np.ndarray) -> None:
    """Word and low-level term counts of feedbacks first.. (one joined text, one pass of each pattern); which
    attributes each feedback mentions goes to its row of `mentions`."""
    joined = "\n".join(texts).lower()
    starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
    stop = _stopwords()
    word_frequencies.update(w for w in WORD.findall(joined) if w not in stop and len(w) > 2)
    column = {a: k for k, a in enumerate(vocabulary.attributes)}
    found = [(m.start(), m.group(1)) for m in vocabulary.pattern.finditer(joined)]
    lowlevel_terms.update(term for _, term in found)
    if found:
        offsets = np.fromiter((start for start, _ in found), dtype=np.int64, count=len(found))
        columns = np.fromiter((column[vocabulary.term_to_attribute[term]] for _, term in found), dtype=np.int64,
                              count=len(found))
        mentions[first + np.searchsorted(starts, offsets, side="right") - 1, columns] = True


def text_stats(data: StatsDataset, vocabulary: Vocabulary | None = None) -> TextStats:
    vocabulary = vocabulary or load_vocabulary()
    owners, texts, bands = [], [], []
    for row, (feedbacks, mos) in enumerate(zip(data.feedbacks, data.mos)):
        for text in feedbacks:
            owners.append(row)
            texts.append(text)
            bands.append(mos_band(mos))
    n = len(texts)
    if n == 0:
        return TextStats(0, np.zeros(0, dtype=np.int64), Counter(), Counter(), {}, {b: Counter() for b in MOS_BANDS})
    lengths = np.fromiter((len(t.split()) for t in texts), dtype=np.int64, count=n)
    attributes = list(vocabulary.attributes)
    mentions = np.zeros((n, len(attributes)), dtype=bool)
    word_frequencies, lowlevel_terms = Counter(), Counter()
    for first in range(0, n, BLOCK):  # blocks of feedbacks: 77K feedbacks' words are never one list
        _count_block(texts[first:first + BLOCK], first, vocabulary, word_frequencies, lowlevel_terms, mentions)

    sources = np.asarray([data.sources[r] for r in owners], dtype=object)
    attribute_share = {}
    for source in data.source_names():
        mask = sources == source
        if mask.any():
            share = mentions[mask].mean(axis=0)
            attribute_share[source] = {a: round(float(share[k]), 4) for k, a in enumerate(attributes)}

    conclusion_by_band: dict[str, Counter] = {band: Counter() for band in MOS_BANDS}
    for text, band in zip(texts, bands):
        if band is not None:
            conclusion_by_band[band][conclusion_level(text, vocabulary.quality_levels)] += 1
    return TextStats(n, lengths, word_frequencies, lowlevel_terms, attribute_share, conclusion_by_band)
