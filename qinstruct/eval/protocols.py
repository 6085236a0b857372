"""Evaluation protocols as jobs: one registry, one runner.

A protocol (A1, A2, A3, or any registered later) says what it scores and how -- its config, its units (every
item to score once per model), how a batch of units is scored, its summary, its tables, its radar axes -- in a
`Protocol` record (types.py) its module builds.  The registry below holds the built-in ones (BUILT_IN) and any
`register`ed later; it feeds the `qinstruct eval` verbs, the job system's kinds (eval-NAME), the Evaluate tab's
choices and form, and the report: adding a protocol is its own file and one name in BUILT_IN.  Every protocol
runs through `run_protocol`:

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
from pathlib import Path
from typing import Any

from ..config import ConfigError, check_config
from ..errors import UserError
from ..fileio import append_line, read_jsonl, write_json
from ..jobs.spec import JobSpec, items_point
from ..runs import Progress, RunFolder
from . import a1, a2, a3
from .types import ITEMS, SUMMARY, Protocol, Scoring, Unit

BUILT_IN = (a1.A1, a2.A2, a3.A3)
PROTOCOLS: dict[str, Protocol] = {protocol.name: protocol for protocol in BUILT_IN}


def register(protocol: Protocol) -> Protocol:
    """Add a protocol (a plug-in's, a test's): a verb, a job kind, a tab choice and report tables from now on."""
    PROTOCOLS[protocol.name] = protocol
    return protocol


def list_protocols() -> list[str]:
    """The registered protocols' names, in order (a1, a2, a3, ...)."""
    return sorted(PROTOCOLS)


def protocol_named(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ConfigError(f"{name}: no such evaluation protocol (known: {', '.join(PROTOCOLS)})")
    return PROTOCOLS[name]


def protocol_configs() -> tuple[type, ...]:
    """Every registered protocol's config class (the Evaluate tab lists their runs)."""
    return tuple(protocol.config for protocol in PROTOCOLS.values())


def protocol_of(config: Any) -> Protocol:
    for protocol in PROTOCOLS.values():
        if type(config) is protocol.config:
            return protocol
    raise ConfigError(f"{type(config).__name__}: not an evaluation protocol's config")


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
    run = RunFolder(out, protocol.kind)
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
    load, endpoints to what they may reach, run folders under evals/NAME-PROTOCOL (the data files are confined
    by the launcher, as every job's).  `common` holds the shared fields, `fields[protocol]` each protocol's own."""
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
    configs = []
    for protocol in (protocol_named(p.lower()) for p in chosen):
        config = config_from_mapping(protocol.config, {**shared, **fields.get(protocol.name, {}), "out": str(
            evals / f"{safe_name(name)}-{protocol.name}")}, "the form")
        judge_url = getattr(config, "judge", "").partition("@")[2]
        if judge_url:
            access.keys.check(judge_url)
        configs.append(config)
    return configs


def evaluate(config: Any, as_json: bool = False) -> int:
    """The evaluation job (`qinstruct eval NAME`, the Evaluate tab's Start): run or continue it, print the summary;
    items that could not be scored are said on stderr with exit status 3 (the numbers are over fewer items)."""
    import sys

    from ..runs import progress_bar

    with progress_bar("eval", "item") as progress:
        result = run_protocol(config, progress)
    print(json.dumps(result, indent=None if as_json else 1, default=float))
    for spec, failed in result.get("failed", {}).items():
        print(f"warning: {spec}: {failed['items']} item(s) not scored, e.g. {failed['first']}", file=sys.stderr)
    return 3 if result.get("failed") else 0


def protocol_job(protocol: Protocol) -> JobSpec:
    """A protocol as a job the launcher runs (kind eval-NAME, its run folder in `out`)."""
    return JobSpec(protocol.kind, protocol.config, evaluate, items_point(ITEMS, "items"), rerun_done=True)


def job_specs() -> list[JobSpec]:
    """Every registered protocol as a job."""
    return [protocol_job(protocol) for protocol in PROTOCOLS.values()]


__all__ = ["BUILT_IN", "PROTOCOLS", "UnscoredError", "evaluate", "job_specs", "list_protocols", "protocol_configs",
           "protocol_job", "protocol_named", "protocol_of", "refuse_unscored", "register", "run_protocol",
           "studio_configs", "summary_of", "summary_problem"]
