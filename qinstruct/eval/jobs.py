"""Evaluation protocols as jobs: one registry, one runner.

A protocol (A1, A2, A3, or any registered later) says what it scores and how -- its config, its units (every
item to score once per model), how a batch of units is scored, its summary, its tables, its radar axes -- and
registers itself (`register`).  The registry feeds the `qinstruct eval` verbs, the Evaluate tab's choices and
the report; adding a protocol touches its own file only.  Every protocol runs through `run_protocol`:

    OUT/items.jsonl     one line per (model, unit): the answer, the losses or the rating, the judge's scores
    OUT/summary.json    every model's results, recomputed from items.jsonl at the end of each run
    OUT/config.yaml, status.json, log.jsonl   the run folder (qinstruct.runs)

Killed at any moment, the same command skips the units already in items.jsonl: no item is lost or counted
twice.  A unit that could not be scored (an unreadable image) is recorded with its error and counted; one whose
scoring failed for a reason that may heal (an endpoint down) is not written and is tried again on the next run.
Models are evaluated one after another (one loaded at a time).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from ..access import process_policy
from ..config import ConfigError, check_config, option
from ..errors import UserError
from ..fileio import append_line, read_jsonl, write_json
from ..images import load_rgb
from ..models.types import LoadOptions
from ..runs import Progress, RunFolder
from .tables import Table

ITEMS, SUMMARY = "items.jsonl", "summary.json"


@dataclass(kw_only=True)
class EvalModels(LoadOptions):
    """What every protocol's config shares: the models, the run folder, the images' folder, batching."""
    models: list[str] = option(default_factory=list, help="model specs to evaluate, one after another (a folder, a "
                               "hub id, tiny:FAMILY, openai:MODEL@URL)", flag="--model", metavar="SPEC")
    out: str = option("", help="the run folder: answers, per-item scores, summary (run again to resume)",
                      affects_result=False)
    image_root: str = option("", help="folder the image paths are relative to (default: the data file's folder)")
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

    def record(self, protocol: "Protocol", unit: Unit, **fields: Any) -> dict:
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
    data_fields: dict[str, str] = field(default_factory=dict)  # field -> "file" | "specs": confined in the studio
    scaling: Callable[[dict], dict[str, dict[str, float]]] = lambda summary: {}  # model -> curve -> value
    figures: Callable[[Path, dict, dict], dict] = lambda run, summary, labels: {}  # report's extra PNGs
    prepare: Callable[[Any], Any] = lambda config: None  # made before the run starts (a judge)
    without_models: Callable[[Any], dict] | None = None  # a result from the config alone (A1's recorded answers)
    form_skip: tuple[str, ...] = ()  # fields the studio's form leaves out (a shell user's options)


PROTOCOLS: dict[str, Protocol] = {}


def register(protocol: Protocol) -> Protocol:
    PROTOCOLS[protocol.name] = protocol
    return protocol


def list_protocols() -> list[str]:
    """The registered protocols' names, in order (a1, a2, a3, ...)."""
    _load_builtins()
    return sorted(PROTOCOLS)


def protocol_named(name: str) -> Protocol:
    _load_builtins()
    if name not in PROTOCOLS:
        raise ConfigError(f"{name}: no such evaluation protocol (known: {', '.join(PROTOCOLS)})")
    return PROTOCOLS[name]


def protocol_of(config: Any) -> Protocol:
    _load_builtins()
    for protocol in PROTOCOLS.values():
        if type(config) is protocol.config:
            return protocol
    raise ConfigError(f"{type(config).__name__}: not an evaluation protocol's config")


def _load_builtins() -> None:
    from . import a1, a2, a3  # noqa: F401 - each registers its protocol


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


def run_protocol(config: Any, progress: Progress | None = None) -> dict:
    """Run (or continue) a protocol's evaluation in its run folder; returns the summary."""
    from ..models.loading import load_model

    protocol = protocol_of(config)
    check_config(config)
    if protocol.without_models is not None and not config.models:
        return protocol.without_models(config)
    units = protocol.units(config)
    prepared = protocol.prepare(config)  # before the folder is taken: a bad judge changes nothing
    out = Path(config.out)
    run = RunFolder(out, f"eval-{protocol.name}")
    with run.hold(config):
        tracker = run.tracker(progress)
        done = {(r.get("model"), r.get(protocol.part_field), r.get("index")) for r in read_jsonl(out / ITEMS, True)}
        total = len(units) * len(config.models)
        finished = sum((spec, u.part, u.index) in done for spec in config.models for u in units)
        missing_reason = "not scored: run again"
        for spec in config.models:
            todo = [u for u in units if (spec, u.part, u.index) not in done]
            if not todo:
                continue
            scoring = Scoring(load_model(spec, config.load_options()), spec, config, prepared, log=run.log)
            for start in range(0, len(todo), config.batch_size):
                batch = todo[start:start + config.batch_size]
                for record in protocol.score(scoring, batch):
                    append_line(out / ITEMS, record)
                finished += len(batch)
                tracker(finished, total)
            missing_reason = scoring.missing_reason
        records = read_jsonl(out / ITEMS)
        summary = protocol.summarize(config, units, records, missing_reason)
        write_json(out / SUMMARY, summary)
        run.summary = protocol.headline(summary)
        refuse_unscored(protocol, config.models, units, records, summary.get("failed") or {})
        return summary


def refuse_unscored(protocol: Protocol, models: list[str], units: list[Unit], records: list[dict],
                    failed: dict) -> None:
    """A run in which no model scored a single item ends failed, saying why in one line (it ended `done`: a wrong
    image folder read as an accuracy of 0.000).  Some items scored: the run is done, the others counted apart."""
    wanted = {(unit.part, unit.index) for unit in units}
    if not wanted or any(r.get("model") in models and "error" not in r and
                         (r.get(protocol.part_field), r.get("index")) in wanted for r in records):
        return
    reasons = "; ".join(f"{spec}: {len(wanted)} of {len(wanted)} item(s) not scored, e.g. "
                        f"{' '.join(str(failed.get(spec, {}).get('first', 'no record')).split())[:300]}"
                        for spec in models)
    raise UnscoredError(f"no item could be scored: {reasons}")


class UnscoredError(UserError):
    """Every item of an evaluation went unscored (no image could be read, the model or the judge always failed)."""


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


def summary_of(folder: Path) -> dict | None:
    """An evaluation's summary.json (None: missing or damaged; `summary_problem` says which)."""
    return None if summary_problem(folder) else json.loads((Path(folder) / SUMMARY).read_text(encoding="utf-8"))


def summary_problem(folder: Path) -> str | None:
    """Why a folder holds no usable evaluation summary (None: it does)."""
    path = Path(folder) / SUMMARY
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{folder}: no summary.json (run the evaluation first)"
    except (OSError, ValueError, UnicodeDecodeError) as error:
        return f"{path}: damaged ({str(error)[:120]}); run the evaluation again to rewrite it from its items"
    if not isinstance(summary, dict) or not isinstance(summary.get("protocol"), str) or not isinstance(
            summary.get("models"), dict):
        return f"{path}: not an evaluation summary (no protocol or models); run the evaluation again"
    return None


def studio_configs(access, evals: Path, name: str, models: list[str], chosen: list[str], common: dict,
                   fields: dict[str, dict]) -> list:
    """The evaluations asked for in the studio, as job configs: models confined to what the studio's users may
    load, each protocol's data files (and the image root) to what they may read, run folders under
    evals/NAME-PROTOCOL.  `common` holds the shared fields, `fields[protocol]` each protocol's own."""
    from ..config import config_from_mapping
    from ..models.specs import parse_spec
    from ..workspace import safe_name

    if not models:
        raise ConfigError("models: choose at least one model")
    if not name or not name.strip():
        raise ConfigError("run name: give the evaluation a name")
    if not chosen:
        raise ConfigError(f"protocols: choose {', '.join(p.upper() for p in list_protocols())}")
    specs = [parse_spec(spec, access) for spec in models]
    for spec in specs:  # an endpoint this studio may not reach is said now, not by a job that fails
        if getattr(spec, "base_url", None):
            access.keys.check(spec.base_url)
    shared = {**common, "models": [spec.resolved for spec in specs]}
    if shared.get("image_root"):
        shared["image_root"] = str(_present(access.data_path(shared["image_root"], "image root"),
                                            shared["image_root"], "image root", folder=True))
    configs = []
    for protocol in (protocol_named(p.lower()) for p in chosen):
        own = dict(fields.get(protocol.name, {}))
        for key, kind in protocol.data_fields.items():
            if kind == "file":
                typed = own.get(key) or ""
                own[key] = str(_present(access.data_path(typed, key), typed, key))
            else:
                own[key] = [_present_spec(access, spec, key) for spec in own.get(key) or [] if spec.strip()]
        config = config_from_mapping(protocol.config, {**shared, **own, "out": str(
            evals / f"{safe_name(name)}-{protocol.name}")}, "the form")
        judge_url = getattr(config, "judge", "").partition("@")[2]
        if judge_url:
            access.keys.check(judge_url)
        configs.append(config)
    return configs


def _present(path: Path, typed: str, what: str, folder: bool = False) -> Path:
    """A data file (A2's references may be a folder) or an image folder a form names must exist before its job
    starts; the refusal names what was typed."""
    if not (path.is_dir() if folder else path.exists()):
        raise ConfigError(f"{what}: {typed.strip()}: no such {'folder' if folder else 'file'} in the workspace")
    return path


def _present_spec(access, spec: str, what: str) -> str:
    """FILE=SOURCE confined and present."""
    confined = access.data_spec(spec)
    _present(Path(confined.partition("=")[0]), spec.partition("=")[0], what)
    return confined


__all__ = ["EvalModels", "ITEMS", "PROTOCOLS", "Protocol", "SUMMARY", "Scoring", "Unit", "failures", "image_of",
           "list_protocols", "load_image", "protocol_named", "protocol_of", "register", "run_protocol",
           "studio_configs", "summary_of", "summary_problem"]
