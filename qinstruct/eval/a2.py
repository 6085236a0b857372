"""Q-Bench A2, description: the model describes the image's low-level appearance; a judge scores completeness,
precision and relevance, each 0, 1 or 2, against a reference.

A dimension's score is p1 + 2 p2 (the shares of 1s and 2s: out of 2), the sum of the three out of 6.  The judge is
any OpenAI-compatible model (structured output, with the conversion backends' retries and cache) or, for the
demo world, the offline judge, which knows each held-out image's real distortion and quality level.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..config import ConfigError, option
from ..data.levels import level_of
from ..data.records import QUALITY_LEVELS
from ..data.vocabulary import load_vocabulary
from ..errors import UserError
from ..models.types import GenerationOptions
from ..workspace import world_file
from .tables import Table
from .types import EvalModels, Protocol, Scoring, Unit, failures, image_of

QUERY = "Describe the quality, aesthetics and other low-level appearance of the image in details."
DIMENSIONS = ("completeness", "precision", "relevance")
# the demo's corruptions by the low-level attribute a description should name (the vocabulary's attributes)
CORRUPTION_ATTRIBUTE = {"gaussian_noise": "noise", "shot_noise": "noise", "impulse_noise": "noise",
                        "speckle_noise": "noise", "defocus_blur": "blur", "glass_blur": "blur", "motion_blur": "blur",
                        "zoom_blur": "blur", "gaussian_blur": "blur", "snow": "occlusion", "frost": "occlusion",
                        "fog": "contrast", "brightness": "exposure", "contrast": "contrast",
                        "elastic_transform": "geometry", "pixelate": "resolution", "jpeg_compression": "compression",
                        "spatter": "occlusion", "saturate": "colour"}


@dataclass
class Reference:
    img_path: str
    text: str
    attribute: str | None = None  # the low-level attribute of the image's distortion (None: pristine)
    level: str | None = None  # its quality level (excellent .. bad)
    distortion_known: bool = False  # attribute None means pristine (the demo world; a file that gives "attribute")


def load_references(path: str) -> list[Reference]:
    """[{"img_path", "description" (or Q-Bench's "golden_description"), "attribute"? (null: pristine), "level"?}],
    as a JSON list or JSON Lines (read as every data file is: BOM, size and nesting limits, errors with line and
    column)."""
    from ..data.loaders import read_json_objects

    rows = [row for row, _ in read_json_objects(path)[0]]
    out = []
    for index, row in enumerate(rows):
        text = row.get("description") or row.get("golden_description") if isinstance(row, dict) else None
        if not isinstance(text, str) or not isinstance(row.get("img_path"), str):
            raise ConfigError(f"{path}: item {index}: expected img_path and description")
        out.append(Reference(row["img_path"], text, row.get("attribute"), row.get("level"), "attribute" in row))
    if not out:
        raise ConfigError(f"{path}: no references (a JSON list of img_path and description)")
    return out


def demo_references(world: Path) -> list[Reference]:
    """The demo world's held-out images with what is known of them: distortion and quality level."""
    mos = {row["img_path"]: float(row["gt_score"]) for row in json.loads(world_file(world, "mos").read_text())}
    meta = {}
    for question in json.loads(world_file(world, "llvisionqa").read_text()):
        meta.setdefault(question["img_path"], question.get("corruption"))
    out = []
    for path, score in mos.items():
        attribute = CORRUPTION_ATTRIBUTE.get(meta.get(path) or "")
        level = level_of(score, 0, 100)
        text = (f"The image shows {attribute} as its main distortion" if attribute else
                "The image shows no particular distortion") + f"; the quality of the image is {level}."
        out.append(Reference(path, text, attribute, level, distortion_known=True))
    return out


NOT_DISTORTIONS = {"clarity", "composition", "lighting", "colour", "texture"}  # attributes, not distortions
NEGATION = re.compile(r"\b(no|not|without|free of|free from|nor|lacks?)\b")


def named_distortions(description: str) -> set[str]:
    """The distortions a description affirms, by the low-level vocabulary: "noisy" names noise, "free of noise"
    and "no visible blur" do not (a negation earlier in the same clause)."""
    vocabulary = load_vocabulary()
    text, named = description.lower(), set()
    for match in vocabulary.pattern.finditer(text):
        clause = re.split(r"[.,;:!?]", text[:match.start()])[-1]
        attribute = vocabulary.term_to_attribute[match.group(1)]
        if attribute not in NOT_DISTORTIONS and not NEGATION.search(clause):
            named.add(attribute)
    return named


def distortion_mentions(description: str, reference: Reference) -> dict[str, bool | None]:
    """Does the description name the image's true distortion (None for a pristine image), and does it name a
    distortion the image does not have?"""
    named = named_distortions(description)
    return {"names_true": reference.attribute in named if reference.attribute else None,
            "names_absent": bool(named - {reference.attribute})}


def offline_judge(description: str, reference: Reference) -> dict[str, int]:
    """The demo's judge: the description against the known distortion and level, by the low-level vocabulary."""
    vocabulary = load_vocabulary()
    said = {vocabulary.term_to_attribute[t] for t in vocabulary.find_terms(description)}
    words = description.lower()
    levels = [level for level in QUALITY_LEVELS if f" {level}" in f" {words}"]
    names_distortion = reference.attribute is None or reference.attribute in named_distortions(description)
    right_level = bool(levels) and reference.level is not None and abs(
        QUALITY_LEVELS.index(levels[-1]) - QUALITY_LEVELS.index(reference.level)) <= 1
    wrong = named_distortions(description) - {reference.attribute}
    completeness = int(names_distortion and reference.attribute is not None) + int(bool(levels))
    if reference.attribute is None:
        completeness = 2 if levels and not wrong else int(bool(levels))
    precision = 2 - int(bool(wrong)) - int(bool(levels) and not right_level)
    relevance = 2 if said and levels else 1 if said or levels else 0
    return {"completeness": completeness, "precision": max(precision, 0), "relevance": relevance}


def dimension_scores(scores: list[dict[str, int]]) -> dict[str, float]:
    """p1 + 2 p2 per dimension (out of 2) and their sum (out of 6)."""
    out = {}
    for dimension in DIMENSIONS:
        values = [s[dimension] for s in scores]
        out[dimension] = (sum(v == 1 for v in values) + 2 * sum(v == 2 for v in values)) / len(values) \
            if values else float("nan")
    out["sum"] = sum(out[d] for d in DIMENSIONS)
    out["n"] = len(scores)
    return out


def mention_shares(mentions: list[dict]) -> dict[str, float | None]:
    """Of the distorted images, the share whose description names the true distortion; of all, the share whose
    description names a distortion the image does not have."""
    named = [m["names_true"] for m in mentions if m["names_true"] is not None]
    return {"names_true_distortion": sum(named) / len(named) if named else None,
            "names_absent_distortion": sum(m["names_absent"] for m in mentions) / len(mentions) if mentions else None}


@dataclass(kw_only=True)
class A2Config(EvalModels):
    COMMAND: ClassVar = ("eval", "a2")

    references: str = option(path="file",
                             help="reference descriptions: a JSON list of {img_path, description}, or a demo "
                             "world folder (its held-out images, with their known distortions and levels)")
    judge: str = option("offline", help="offline (the demo's judge: known distortions and levels) or "
                        "openai:MODEL[@BASE_URL] (key from OPENAI_API_KEY)")
    max_new_tokens: int = option(256, help="longest description", min=1, max=8192)

    def validate(self) -> None:
        super().validate()
        if self.judge != "offline" and not (self.judge.startswith("openai:") and len(self.judge) > len("openai:")):
            raise ConfigError(f"judge: expected offline or openai:MODEL[@BASE_URL], got {self.judge!r}")
        if "@" in self.judge:
            from ..endpoints import check_url

            check_url(self.judge.split("@", 1)[1])


def units(config: A2Config) -> list[Unit]:
    path = Path(config.references)
    references = demo_references(path) if path.is_dir() else load_references(config.references)
    root = Path(config.image_root) if config.image_root else (path if path.is_dir() else path.parent)
    references = references[:config.limit] if config.limit else references
    return [Unit("a2", i, reference, image_of(root, reference.img_path)) for i, reference in enumerate(references)]


def make_judge(config: A2Config):
    """A function (description, reference) -> scores: the offline judge, or a model behind an endpoint (which
    gets the environment's key only where the process's policy allows: in a studio job, the operator's
    endpoints)."""
    if config.judge == "offline":
        return offline_judge
    import asyncio

    from ..convert.backends import create_backend
    from ..convert.cache import ResponseCache

    name, _, url = config.judge[len("openai:"):].partition("@")
    backend = create_backend("openai", model=name, base_url=url or None,
                             cache=ResponseCache(Path(config.out) / ".judge-cache"))

    def judge(description: str, reference: Reference) -> dict:
        async def once():
            try:
                return await backend.judge(description, reference.text)
            finally:
                await backend.close()
        return asyncio.run(once())

    return judge


def score(scoring: Scoring, batch: list[Unit]) -> list[dict]:
    loaded = scoring.images(batch)
    records = [scoring.record(A2, u, error=e) for u, (_, e) in zip(batch, loaded) if e is not None]
    usable = [(unit, image) for unit, (image, error) in zip(batch, loaded) if error is None]
    descriptions = scoring.model.answer_many([QUERY] * len(usable), [image for _, image in usable],
                                             GenerationOptions(max_new_tokens=scoring.config.max_new_tokens))
    for (unit, _), description in zip(usable, descriptions):
        try:
            scores = scoring.prepared(description, unit.item)
        except UserError as error:  # the judge failed on this item: not written, retried next run
            scoring.log(event="judge failed", index=unit.index, error=str(error))
            scoring.missing_reason = f"the judge failed ({error}); run again to retry"
            continue
        known = {"mentions": distortion_mentions(description, unit.item)} if unit.item.distortion_known else {}
        records.append(scoring.record(A2, unit, description=description, scores=scores, **known))
    return records


def summarize(config: A2Config, units: list[Unit], records: list[dict], missing_reason: str) -> dict:
    def of(spec: str) -> dict:
        scored = [r for r in records if r.get("model") == spec and "scores" in r]
        return {**dimension_scores([r["scores"] for r in scored]),
                **mention_shares([r["mentions"] for r in scored if "mentions" in r])}

    return {"protocol": "a2", "judge": config.judge, "models": {spec: of(spec) for spec in config.models},
            "failed": failures(records, config.models, len(units), missing_reason)}


def tables(summary: dict) -> list[Table]:
    columns = ["completeness", "precision", "relevance", "sum", "names_true_distortion", "names_absent_distortion"]
    rows = {m: [s.get(c) for c in columns] for m, s in summary["models"].items()}
    return [Table(f"A2 description (judge: {summary.get('judge')}; each out of 2, sum out of 6; the shares of "
                  "descriptions naming the image's true distortion and naming one it does not have)", columns, rows,
                  lower_is_better=("names_absent_distortion",))]


def radar(summary: dict) -> dict[str, dict[str, float | None]]:
    return {model: {"A2": result["sum"] / 6} for model, result in summary["models"].items()}


A2 = Protocol(
    "a2", "A2 description", "A2 description: completeness, precision, relevance from a judge", A2Config, units, score,
    summarize, tables, radar, lambda summary: {spec: s["sum"] for spec, s in summary["models"].items()},
    part_field="protocol", prepare=make_judge)
