"""`qinstruct chat` and `qinstruct rate` as jobs: configs and the functions the CLI and scripts call."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from ..config import ConfigError, option
from ..corrupt.api import MAX_SEED
from ..corrupt.registry import SEVERITIES, list_corruptions
from ..images import DEFAULT_MAX_MEGAPIXELS, ImageInputError, load_rgb
from .seen import corrupted_variants
from .types import MAX_IMAGES, GenerationOptions, LoadOptions, Rating, Turn


@dataclass(kw_only=True)
class ChatConfig(GenerationOptions, LoadOptions):
    COMMAND: ClassVar = ("chat",)

    models: list[str] = option(help="model spec (a folder, a hub id, tiny:FAMILY or openai:MODEL@URL), twice for "
                               "a side-by-side: baseline, tuned", flag="--model", metavar="SPEC")
    prompt: str = option(help="the question")
    images: list[str] = option(default_factory=list, flag="--image", metavar="FILE",
                               help="image file the question is about; up to 4 (--image A --image B) for models that "
                               "take several in one question (mPLUG-Owl2, LLaVA, Qwen2-VL)")
    rate: bool = option(False, help="also rate each image with each model (P(good), Q-Align score)")

    def validate(self) -> None:
        LoadOptions.validate(self)
        if not 1 <= len(self.models) <= 2:
            raise ConfigError(f"models: give one or two --model, got {len(self.models)}")
        if not self.prompt.strip():
            raise ConfigError("prompt: empty question")
        if len(self.images) > MAX_IMAGES:
            raise ConfigError(f"images: at most {MAX_IMAGES} images in one question, got {len(self.images)}")


@dataclass(kw_only=True)
class RateConfig(LoadOptions):
    COMMAND: ClassVar = ("rate",)

    images: list[str] = option(default_factory=list, help="image files", positional=True, metavar="IMAGE")
    model: str = option(help="model spec (a folder, a hub id, tiny:FAMILY or openai:MODEL@URL)", metavar="SPEC")
    batch_size: int = option(16, help="images per forward pass", min=1, max=4096)
    compile: bool = option(False, help="compile the model's repeated blocks first (~20 s once on a GPU; faster "
                           "for many images)")
    max_megapixels: float = option(DEFAULT_MAX_MEGAPIXELS, help="refuse larger images", gt=0, max=10_000)
    corruptions: list[str] = option(default_factory=list, choices=list_corruptions, flag="--corruption",
                                    metavar="NAME", help="also rate each image corrupted by these at each severity "
                                    "(the Corrupt tab's score column), corrupted at the model's input size: what "
                                    "the model sees")
    severities: list[int] = option(default_factory=lambda: list(SEVERITIES), choices=SEVERITIES,
                                   flag="--severity", metavar="N", help="severities of --corruption")
    seed: int = option(0, help="seed of --corruption", min=0, max=MAX_SEED)
    self_check: bool = option(False, help="check the model instead: its scores must fall as blur and noise get "
                              "stronger (severities 1/3/5, on the given images or four bundled photos); prints "
                              "PASS or FAIL, exit status 0 or 1")

    def validate(self) -> None:
        LoadOptions.validate(self)
        if not self.images and not self.self_check:
            raise ConfigError("images: give at least one image file")

    @property
    def cells(self) -> list[tuple[str, int]]:
        return [(name, severity) for name in self.corruptions for severity in self.severities]


@dataclass
class SideAnswer:
    spec: str
    label: str
    answer: str = ""
    error: str | None = None
    rating: Rating | None = None
    model: dict | None = None  # what the model is (kind, family, device, base...)

    def as_dict(self) -> dict:
        out = {"spec": self.spec, "label": self.label, "answer": self.answer, "model": self.model}
        if self.error:
            out["error"] = self.error
        if self.rating is not None:
            out["rating"] = self.rating.as_dict()
        return out


def run_chat(config: ChatConfig) -> list[SideAnswer]:
    """Ask one or two models; a side that fails says why and the other still answers."""
    from .pair import load_pair, load_side, stream_pair

    pictures = [load_rgb(path) for path in config.images]
    image = pictures if len(pictures) > 1 else (pictures[0] if pictures else None)
    options, turns = config.generation_options(), [Turn(config.prompt)]
    if len(config.models) == 2:
        pair = load_pair(config.models[0], config.models[1], config.load_options())
        sides, answers = list(pair.sides), ["", ""]
        for left, right in stream_pair(pair, (turns, turns), image, options):
            answers[0] += left
            answers[1] += right
    else:
        sides = [load_side(config.models[0], config.load_options())]
        try:
            answers = ["".join(sides[0].stream(turns, image, options))]
        except Exception as error:  # noqa: BLE001 - any failure of a side is reported as that side's answer
            answers = [f"⚠ {error}"]
    out = []
    for side, answer in zip(sides, answers):
        result = SideAnswer(side.spec, side.label, answer.strip(), model=side.describe())
        if answer.startswith("⚠"):
            result.answer, result.error = "", answer[1:].strip()
        if config.rate and pictures and not result.error:
            try:
                result.rating = side.rate(pictures[:1])[0]  # the first image's (rate the others with `rate`)
            except Exception as error:  # noqa: BLE001 - as above: reported on that side
                result.error = str(error)
        out.append(result)
    return out


@dataclass
class RatedImage:
    path: str
    rating: Rating | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return {"path": self.path, **(self.rating.as_dict() if self.rating else {"error": self.error})}


def run_rate(config: RateConfig) -> Iterator[RatedImage]:
    """Rate every image (and its corrupted variants), batch by batch; unreadable images come back with their
    error, in input order."""
    from .loading import load_model

    model = load_model(config.model, config.load_options())
    if config.compile:
        model.compile()
    pending: list[tuple[str, object]] = []
    for index, path in enumerate(config.images):
        try:
            image = load_rgb(path, config.max_megapixels)
            if config.corruptions:
                pending += [(path if name is None else f"{path} [{name} s{severity}]", variant) for name, severity,
                            variant in corrupted_variants(model, image, config.cells, config.seed)]
            else:
                pending.append((path, image))
        except ImageInputError as error:
            pending.append((path, error))
        if len(pending) >= config.batch_size or index == len(config.images) - 1:
            yield from _rate_batch(model, pending)
            pending = []


def run_self_check(config: RateConfig):
    """`rate --self-check`: the scorer's monotonicity check on this model (P(good), or Q-Align's score for a model
    rated with Q-Align's prompt)."""
    from .loading import load_model
    from .rating import prompt_name
    from .selfcheck import SCORE_OF, self_check

    model = load_model(config.model, config.load_options())
    if getattr(model, "kind", "local") != "local":
        raise ConfigError(f"self_check: {config.model} is an endpoint; the self-check runs on local weights")
    kind = "qalign" if prompt_name(model) in ("q-align", "one-align") else "p_good"
    images = [load_rgb(path, config.max_megapixels) for path in config.images] or None
    return self_check(model, SCORE_OF[kind], images, config.seed, config.batch_size)


def _rate_batch(model, batch: list[tuple[str, object]]) -> Iterator[RatedImage]:
    good = [(path, image) for path, image in batch if not isinstance(image, Exception)]
    ratings = iter(model.rate([image for _, image in good], batch_size=max(1, len(good)))) if good else iter(())
    for path, image in batch:
        yield RatedImage(path, error=str(image)) if isinstance(image, Exception) else RatedImage(path, next(ratings))


__all__ = ["ChatConfig", "RateConfig", "RatedImage", "SideAnswer", "run_chat",
           "run_rate", "run_self_check"]
