"""MOS lists -> rating items in the Q-Align style: "The quality of the image is {level}." (five levels).

Levels come from equal intervals between the source's lowest and highest MOS (or the range given): the first
fifth is bad, then poor, fair, good, excellent; a MOS on a boundary belongs to the lower level, as Q-Align's own
conversion does.  The question is one of Q-Align's templates, picked per image with a seeded generator.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from ..config import ConfigError, option
from ..fileio import write_json_list
from .loaders import stream_items
from .records import IMAGE_TOKENS, QUALITY_LEVELS
from .soft_labels import DENSITIES, soft_level_target

TEMPLATES = ("How would you rate the quality of this image?", "Could you evaluate the quality of this image?",
             "Rate the quality of this image.", "How do you assess the quality of this image?",
             "Can you rate the quality of this picture?", "What do you think about the quality of this image?",
             "What's your opinion on the quality of this picture?", "What is your quality rating for this image?",
             "How would you judge the quality of this image?")
ANSWER = "The quality of the image is {level}."


@dataclass(kw_only=True)
class LevelsConfig:
    COMMAND: ClassVar = ("data", "levels")

    files: list[str] = option(help="MOS lists (Q-Bench A3 layout), each FILE or FILE=SOURCE", positional=True,
                              metavar="FILE[=SOURCE]")
    out: str = option(help="output JSON: rating items in the LLaVA layout")
    range: list[float] = option(default_factory=list, help="MIN MAX of the MOS scale (default: each file's lowest "
                                "and highest MOS)", metavar="N", min=-1e9, max=1e9)
    image_token: str = option("<image>", help="image token of the target model's data (mPLUG-Owl-2: <|image|>)",
                              choices=list(IMAGE_TOKENS))
    seed: int = option(0, help="seed of the question templates", min=0, max=2**32 - 1)
    soft: str = option("", help="also DeQA-Score's soft label of each image (level_probs, from its MOS and the "
                       "rows' \"std\"): pdf for sets with widely spread scores (KonIQ, KADID), cdf for narrow ones "
                       "(SPAQ)", choices=["", *DENSITIES])

    def validate(self) -> None:
        if not self.files:
            raise ConfigError("files: give at least one MOS list")
        if self.range and (len(self.range) != 2 or not self.range[0] < self.range[1]):
            raise ConfigError(f"range: expected MIN MAX with MIN < MAX, got {self.range}")


def level_of(mos: float, low: float, high: float) -> str:
    """bad .. excellent by equal fifths of [low, high]; a value on a boundary goes to the lower level."""
    width = (high - low) / 5
    for index, level in enumerate(reversed(QUALITY_LEVELS)):  # bad first
        if mos <= low + (index + 1) * width + 1e-8:
            return level
    return QUALITY_LEVELS[0]


def _template(seed: int, image: str) -> str:
    digest = hashlib.sha256(f"{seed}:{image}".encode()).digest()
    return TEMPLATES[int.from_bytes(digest[:4], "little") % len(TEMPLATES)]


def build_levels(config: LevelsConfig) -> dict[str, int]:
    """Write the items; returns how many items per level."""
    from ..config import check_config

    check_config(config)
    counts = dict.fromkeys(reversed(QUALITY_LEVELS), 0)
    ranges = [_score_range(config, spec.partition("=")[0]) for spec in config.files]  # said before writing
    write_json_list(config.out, (item for spec, (low, high) in zip(config.files, ranges)
                                 for item in _items(config, spec, low, high, counts)))
    return counts


def _score_range(config: LevelsConfig, path: str) -> tuple[float, float]:
    """The MOS scale of one file: the given range, or its lowest and highest MOS (a first streaming pass)."""
    low = high = None
    for row in stream_items(path, "mos"):
        low = row.gt_score if low is None else min(low, row.gt_score)
        high = row.gt_score if high is None else max(high, row.gt_score)
    if low is None:
        raise ConfigError(f"{path}: no MOS rows")
    low, high = config.range if config.range else (low, high)
    if not low < high:
        raise ConfigError(f"{path}: every MOS is {low}; give --range MIN MAX")
    return low, high


def _items(config: LevelsConfig, spec: str, low: float, high: float, counts: dict[str, int]) -> Iterator[dict]:
    path, _, source = spec.partition("=")
    for row in stream_items(path, "mos"):
        level = level_of(row.gt_score, low, high)
        counts[level] += 1
        item = {"id": f"{row.img_path}->{row.gt_score}", "image": row.img_path,
                "conversations": [
                    {"from": "human", "value": f"{_template(config.seed, row.img_path)}\n{config.image_token}"},
                    {"from": "gpt", "value": ANSWER.format(level=level)}],
                "source": source or None, "gt_score": row.gt_score, **_soft(config, row, low, high, path)}
        yield {k: v for k, v in item.items() if v is not None}


def _soft(config: LevelsConfig, row, low: float, high: float, path: str) -> dict:
    """DeQA-Score's fields beside the item: the soft label over the levels (excellent first, as its files hold it)
    and the MOS and deviation on 1-5."""
    if not config.soft:
        return {}
    if row.std is None:
        raise ConfigError(f"{path}: {row.img_path} has no \"std\": soft labels need each image's standard "
                          "deviation (drop --soft for plain levels)")
    target = soft_level_target(row.gt_score, row.std, low, high, config.soft)
    return {"level_probs": [round(p, 6) for p in target.probs], "gt_score_norm": round(target.mos, 6),
            "std_norm": round(target.std, 6)}
