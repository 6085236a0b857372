"""The training mixture: which items, from which files, in what proportions (the paper's strategies, Fig. 5/6).

Items come from Q-Instruct / LLaVA JSON or LLaMA-Factory ShareGPT files.  Each item gets a *kind* -- from its
own `type` field when our converter wrote it, otherwise recognised from its turns, because the real Q-Instruct
release carries no per-item type: pathway (a long "describe and evaluate" answer), yes-no, mcq (options A-D in
the question), what-how (a short direct answer), extended (several exchanges).  Kinds drive the per-kind ratios
and the counts a user can check before training.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..access import AccessDenied, process_policy
from ..config import ConfigError
from ..data.kinds import item_kind
from ..data.loaders import detect_format, stream_items
from ..data.records import InstructionItem
from .config import TrainConfig, parse_source


@dataclass(frozen=True)
class Example:
    item: InstructionItem
    image: Path | None
    source: str
    kind: str
    level: str  # "high" | "low"


@dataclass
class Mixture:
    train: list[Example] = field(default_factory=list)
    eval: list[Example] = field(default_factory=list)
    skipped_text_only: int = 0
    missing_images: list[str] = field(default_factory=list)  # the first few, for the message
    skipped_missing: int = 0
    refused_images: list[str] = field(default_factory=list)  # paths outside what this process may read (the first)
    skipped_refused: int = 0
    joined_from: int = 0  # items before they were joined per image (0: not joined)
    item_levels: dict[str, int] = field(default_factory=dict)  # items per level before joining: what a strategy saw

    def counts(self) -> dict[str, dict[str, int]]:
        everything = self.train + self.eval
        return {"level": dict(Counter(e.level for e in everything)), "kind": dict(Counter(e.kind for e in everything)),
                "source": dict(Counter(e.source for e in everything)), "item_level": self.item_levels}

    def low_level_items_per_example(self) -> float:
        """How many low-level items one training example holds on average (items joined per image count apart)."""
        return self.item_levels.get("low", 0) / max(len(self.train) + len(self.eval), 1)

    def summary(self) -> str:
        counts = self.counts()
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(counts["kind"].items()))
        text = f"{len(self.train):,} training and {len(self.eval):,} held-out items ({kinds})"
        if self.joined_from:
            text += f"; joined per image from {self.joined_from:,} items"
        if self.skipped_text_only:
            text += f"; {self.skipped_text_only:,} text-only items skipped"
        if self.skipped_missing:
            text += f"; {self.skipped_missing:,} items skipped for a missing image (e.g. {self.missing_images[0]})"
        if self.skipped_refused:
            text += (f"; {self.skipped_refused:,} items skipped: their image path is outside the folders this studio "
                     f"may read (e.g. {self.refused_images[0]})")
        return text


def load_items(path: str) -> Iterator[InstructionItem]:
    """The file's items, read as the mixture takes them (a 200K-item file is never held as JSON and as items)."""
    fmt = detect_format(path)
    if fmt not in ("instructions", "sharegpt"):
        raise ConfigError(f"{path}: a {fmt} file is not instruction data (LLaVA JSON or LLaMA-Factory ShareGPT); "
                          "convert feedbacks with `qinstruct convert` or MOS lists with `qinstruct data levels`")
    return iter(stream_items(path, fmt))


def resample(items: list, ratio: float, rng: random.Random) -> list:
    """ratio 2.5: every item twice plus a seeded half; 0.3: a seeded 30%."""
    whole, part = int(ratio), ratio - int(ratio)
    return items * whole + rng.sample(items, round(part * len(items)))


def _examples(spec: str, level: str, config: TrainConfig, rng: random.Random, mixture: Mixture) -> list[Example]:
    source = parse_source(spec)
    root = Path(config.image_root) if config.image_root else Path(source.path).parent
    policy = process_policy()  # a run the studio launched: an item's image path is confined like a typed path
    examples = []
    for item in load_items(source.path):
        if item.image is None:
            mixture.skipped_text_only += 1
            continue
        try:
            image = policy.data_file_path(root, item.image)
        except AccessDenied:
            mixture.skipped_refused += 1
            if not mixture.refused_images:
                mixture.refused_images.append(item.image)
            continue
        if not image.is_file():
            mixture.skipped_missing += 1
            if len(mixture.missing_images) < 3:
                mixture.missing_images.append(str(root / item.image))
            continue
        examples.append(Example(item, image, Path(source.path).name, item_kind(item), level))
    if level == "low":
        ratios = {kind: float(ratio) for kind, _, ratio in (s.partition("=") for s in config.kind_ratios)}
        by_kind: dict[str, list[Example]] = {}
        for example in examples:
            by_kind.setdefault(example.kind, []).append(example)
        examples = [e for kind, group in by_kind.items() for e in resample(group, ratios.get(kind, 1.0), rng)]
        examples = resample(examples, config.low_level_fraction, rng) if config.low_level_fraction < 1 else examples
    examples = resample(examples, source.ratio, rng)
    return examples[:source.cap] if source.cap else examples


def join_per_image(examples: list[Example], turns: int, rng: random.Random) -> list[Example]:
    """The examples about one image as conversations of up to `turns` exchanges each, in a seeded order.  A
    joined example's kind is its items' kind when they share one, else "joined"; its level is low when any of
    its items is (what the strategies count)."""
    by_image: dict[Path | None, list[Example]] = {}
    for example in examples:
        by_image.setdefault(example.image, []).append(example)
    joined = []
    for group in by_image.values():
        rng.shuffle(group)
        for start in range(0, len(group), turns):
            chunk = group[start:start + turns]
            first = chunk[0]
            item = InstructionItem(first.item.id, first.item.image,
                                   [turn for example in chunk for turn in example.item.conversations],
                                   {"joined": [example.item.id for example in chunk]})
            kinds = {example.kind for example in chunk}
            level = "low" if any(example.level == "low" for example in chunk) else "high"
            joined.append(Example(item, first.image, first.source, kinds.pop() if len(kinds) == 1 else "joined",
                                  level))
    return joined


def build_mixture(config: TrainConfig) -> Mixture:
    """The strategy's data: high-level and/or low-level files with their ratios and caps, shuffled with the
    config's seed, a held-out share kept aside for the eval loss."""
    rng = random.Random(config.seed)
    mixture, everything = Mixture(), []
    for level, specs in (("high", config.high_level if config.uses_high_level else []),
                         ("low", config.low_level if config.uses_low_level else [])):
        for spec in specs:
            everything += _examples(spec, level, config, rng, mixture)
    if not everything:
        raise ConfigError("the mixture is empty: no item with an image in the given files" + (
            f" ({mixture.skipped_missing} images not found, e.g. {mixture.missing_images[0]}; set image_root)"
            if mixture.skipped_missing else "") + (
            f" ({mixture.skipped_refused} image paths outside the folders this studio may read, e.g. "
            f"{mixture.refused_images[0]})" if mixture.skipped_refused else ""))
    mixture.item_levels = dict(Counter(e.level for e in everything))
    if config.join_per_image > 1:
        mixture.joined_from = len(everything)
        everything = join_per_image(everything, config.join_per_image, rng)
    rng.shuffle(everything)
    held = int(round(len(everything) * config.eval_fraction))
    held = min(max(held, 1 if config.eval_fraction > 0 else 0), len(everything) - 1)
    # every held-out item stays out of training; the eval loss reads at most eval_items of them (it runs
    # every eval_steps: over thousands of items it would cost more than the training on a CPU)
    mixture.eval, mixture.train = everything[:held][:config.eval_items or None], everything[held:]
    return mixture
