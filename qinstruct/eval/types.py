"""What every evaluation protocol is made of: its config's shared fields (EvalModels), the units it scores, what
scoring a batch gets (Scoring), and the Protocol record a protocol module (a1.py, a2.py, a3.py) builds.  The
registry and the runner that use them are in protocols.py."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..access import process_policy
from ..config import ConfigError, option
from ..images import load_rgb
from ..models.types import LoadOptions
from .tables import Table

ITEMS, SUMMARY = "items.jsonl", "summary.json"


@dataclass(kw_only=True)
class EvalModels(LoadOptions):
    """What every protocol's config shares: the models, the run folder, the images' folder, batching."""
    models: list[str] = option(default_factory=list, help="model specs to evaluate, one after another (a folder, a "
                               "hub id, tiny:FAMILY, openai:MODEL@URL)", flag="--model", metavar="SPEC")
    out: str = option("", help="the run folder: answers, per-item scores, summary (run again to resume)",
                      affects_result=False)
    image_root: str = option("", help="folder the image paths are relative to (default: the data file's folder)",
                             path="folder")
    batch_size: int = option(8, help="items per forward pass", min=1, max=1024, affects_result=False)
    limit: int = option(0, help="only the first N items (0: all)", min=0, max=100_000_000)

    def validate(self) -> None:
        LoadOptions.validate(self)
        if self.models and not self.out:
            raise ConfigError("out: give the run folder where answers and scores go")


class ImageRef(NamedTuple):
    """An item's image as its data file names it, and the folder that name is relative to."""
    root: Path
    relative: str


@dataclass(frozen=True)
class Unit:
    """One thing to score once per model: a question under one A1 protocol, one image of one MOS list..."""
    part: str  # the record's `part_field` value: "letter" / "likelihood" (A1), the dataset (A3), "a2"
    index: int
    item: Any
    image: ImageRef | tuple[ImageRef, ...] | None = None  # confined by the process's policy when loaded; a pair
    # question's two images as a tuple


@dataclass
class Scoring:
    """What a protocol's `score` gets: the loaded model, its spec, the config, what `prepare` made (A2's judge),
    and a place to say why units were left unscored (a judge that failed: they are retried next run)."""
    model: Any
    spec: str
    config: Any
    prepared: Any = None
    missing_reason: str = "not scored: run again"
    log: Callable[..., None] = lambda **event: None

    def images(self, units: list[Unit]) -> list[tuple[Any, str | None]]:
        return [load_image(unit.image) for unit in units]

    def record(self, protocol: Protocol, unit: Unit, **fields: Any) -> dict:
        return {"model": self.spec, protocol.part_field: unit.part, "index": unit.index, **fields}


@dataclass(frozen=True)
class Protocol:
    name: str  # the verb (`qinstruct eval NAME`), the run kind (eval-NAME), the tab's choice (NAME.upper())
    title: str  # "A1 perception"
    about: str  # one line: the CLI's help, the tab's hint
    config: type  # an EvalModels with COMMAND = ("eval", NAME)
    units: Callable[[Any], list[Unit]]
    score: Callable[[Scoring, list[Unit]], list[dict]]  # records of those units (left out: retried next run)
    summarize: Callable[[Any, list[Unit], list[dict], str], dict]  # (config, units, records, missing reason)
    tables: Callable[[dict], list[Table]]
    radar: Callable[[dict], dict[str, dict[str, float | None]]]  # model -> axis -> value on [0, 1]
    headline: Callable[[dict], dict]  # the short summary status.json keeps
    part_field: str = "protocol"  # the record field that holds a unit's part
    scaling: Callable[[dict], dict[str, dict[str, float]]] = lambda summary: {}  # model -> curve -> value
    figures: Callable[[Path, dict, dict], dict] = lambda run, summary, labels: {}  # report's extra PNGs
    prepare: Callable[[Any], Any] = lambda config: None  # made before the run starts (a judge)
    without_models: Callable[[Any], dict] | None = None  # a result from the config alone (A1's recorded answers)
    form_skip: tuple[str, ...] = ()  # fields the studio's form leaves out (a shell user's options)

    @property
    def kind(self) -> str:
        """Its runs' kind (status.json, the job system)."""
        return f"eval-{self.name}"


def load_image(image: ImageRef | tuple[ImageRef, ...] | None):
    """An item's image (a list for a pair question), its path confined by the process's policy (a studio job: the
    studio's), or its error (the path as the data file wrote it)."""
    if image is None:
        return None, "no image"
    if isinstance(image, tuple) and not isinstance(image, ImageRef):
        loaded = [load_image(one) for one in image]
        errors = [error for _, error in loaded if error is not None]
        return (None, errors[0]) if errors else ([picture for picture, _ in loaded], None)
    try:
        return load_rgb(process_policy().data_file_path(image.root, image.relative)), None
    except Exception as error:  # noqa: BLE001 - a missing or broken image is that item's error, the run goes on
        return None, str(error)


def image_of(root: str | Path, relative: str) -> ImageRef:
    return ImageRef(Path(root), relative)


def failures(records: list[dict], models: list[str], expected: int | None = None,
             missing_reason: str = "not scored: run again") -> dict:
    """Per model, the units that have no score (an unreadable image, a failed call) and the first reason; with
    `expected`, units missing from the records (a judge that kept failing) count too."""
    out = {}
    for spec in models:
        mine = [r for r in records if r.get("model") == spec]
        errors = [r["error"] for r in mine if "error" in r]
        missing = max(0, expected - len({(r.get("protocol") or r.get("dataset"), r.get("index")) for r in mine})) \
            if expected is not None else 0
        if errors or missing:
            out[spec] = {"items": len(errors) + missing, "first": errors[0] if errors else missing_reason}
    return out


__all__ = ["EvalModels", "ITEMS", "ImageRef", "Protocol", "SUMMARY", "Scoring", "Unit", "failures", "image_of",
           "load_image"]
