"""Evaluations as jobs: configs, and runners that write a run folder and resume per item.

    OUT/items.jsonl     one line per (model, item): the answer, the losses or the rating, the judge's scores
    OUT/summary.json    every model's tables, recomputed from items.jsonl at the end of each run
    OUT/config.yaml, status.json, log.jsonl   the run folder (qinstruct.runs)

Killed at any moment, the same command skips the items already in items.jsonl: no item is lost or counted
twice.  Models are evaluated one after another (one loaded at a time).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..config import ConfigError, check_config, option
from ..errors import UserError
from ..fileio import append_line, read_jsonl, write_json
from ..images import load_rgb
from ..models.types import GenerationOptions, LoadOptions
from ..access import process_policy
from ..runs import Progress, RunFolder

ITEMS, SUMMARY = "items.jsonl", "summary.json"
PROTOCOLS = ("letter", "likelihood")


@dataclass(kw_only=True)
class EvalModels(LoadOptions):
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


@dataclass(kw_only=True)
class A1Config(EvalModels):
    COMMAND: ClassVar = ("eval", "a1")

    questions: str = option(help="LLVisionQA questions (JSON list, or the Hugging Face rows variant)")
    protocols: list[str] = option(default_factory=lambda: list(PROTOCOLS), help="letter: the official prompt and "
                                  "a strict reading of the answer; likelihood: the lowest loss among the options",
                                  choices=PROTOCOLS)
    answers: str = option("", help="score recorded answers instead of a model: JSON Lines of {index, answer}")
    max_new_tokens: int = option(16, help="longest letter answer", min=1, max=4096)

    def validate(self) -> None:
        super().validate()
        if bool(self.models) == bool(self.answers):
            raise ConfigError("give --model (one or more) or --answers, not both and not neither")


@dataclass(kw_only=True)
class A3Config(EvalModels):
    COMMAND: ClassVar = ("eval", "a3")

    mos: list[str] = option(help="MOS lists (Q-Bench A3 layout), each FILE or FILE=NAME", metavar="FILE[=NAME]")
    temperature: float = option(100.0, help="softmax temperature of the good/poor score (Q-Bench: 100; SRCC does "
                                "not depend on it)", gt=0, max=1e6)


@dataclass(kw_only=True)
class A2Config(EvalModels):
    COMMAND: ClassVar = ("eval", "a2")

    references: str = option(help="reference descriptions: a JSON list of {img_path, description}, or a demo "
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


def _models_done(path: Path) -> set[tuple]:
    return {(r.get("model"), r.get("protocol") or r.get("dataset"), r.get("index")) for r in read_jsonl(path, True)}


def _image(root: Path, relative: str):
    """An item's image, its path confined by the process's policy (a studio job: the studio's), or its error."""
    try:
        return load_rgb(process_policy().data_file_path(root, relative)), None
    except Exception as error:  # noqa: BLE001 - a missing or broken image is that item's error, the run goes on
        return None, str(error)


def _load(spec: str, config: EvalModels):
    from ..models.loading import load_model

    return load_model(spec, config.load_options())  # under the process's policy


def run_a1(config: A1Config, progress: Progress | None = None) -> dict:
    from ..data.loaders import load_llvisionqa
    from .a1 import letter_prompt, parse_answer, score_answers

    check_config(config)
    items = load_llvisionqa(config.questions).items
    items = items[:config.limit] if config.limit else items
    if config.answers:
        answers = recorded_answers(config.answers, len(items))
        result = score_answers(items, answers)
        unanswered = [i for i in range(len(items)) if i not in answers]
        if unanswered:  # counted as unparsed, said, and exit 3: the figure is over answers that are not all there
            result["failed"] = {config.answers: {"items": len(unanswered),
                                                 "first": f"question {unanswered[0]} has no answer"}}
        return result
    root = Path(config.image_root) if config.image_root else Path(config.questions).parent
    out = Path(config.out)
    run = RunFolder(out, "eval-a1")
    with run.hold(config):
        tracker = run.tracker(progress)
        done = _models_done(out / ITEMS)
        total = len(items) * len(config.models) * len(config.protocols)
        finished = len(done)
        for spec in config.models:
            model = _load(spec, config)
            for protocol in config.protocols:
                todo = [i for i in range(len(items)) if (spec, protocol, i) not in done]
                for start in range(0, len(todo), config.batch_size):
                    batch = todo[start:start + config.batch_size]
                    loaded = [_image(root, items[i].img_path) for i in batch]
                    if protocol == "letter":
                        records = _letter(model, spec, [items[i] for i in batch], batch, loaded, config,
                                          letter_prompt, parse_answer)
                    else:
                        records = _likelihood(model, spec, [items[i] for i in batch], batch, loaded)
                    for record in records:
                        append_line(out / ITEMS, record)
                    finished += len(batch)
                    tracker(finished, total)
        summary = a1_summary(items, read_jsonl(out / ITEMS), config)
        write_json(out / SUMMARY, summary)
        run.summary = {spec: {p: s.get(p, {}).get("overall") for p in s} for spec, s in summary["models"].items()}
        return summary


def recorded_answers(path: str, questions: int) -> dict[int, str]:
    """Answers recorded elsewhere, one JSON line each: {"index": question number, "answer": text}.  Every line
    must be one: a file of something else is said, not scored as zero."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"answers: {path}: no such file")
    answers: dict[int, str] = {}
    with source.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                raise ConfigError(f"{path}: line {number}: not JSON; expected {{\"index\": N, \"answer\": TEXT}}") \
                    from None
            index = record.get("index") if isinstance(record, dict) else None
            if not isinstance(index, int) or isinstance(index, bool) or not isinstance(record.get("answer"), str):
                raise ConfigError(f"{path}: line {number}: expected {{\"index\": N, \"answer\": TEXT}}, got "
                                  f"{raw.decode(errors='replace').strip()[:80]}")
            if not 0 <= index < questions:
                raise ConfigError(f"{path}: line {number}: index {index} is not a question (0 to {questions - 1})")
            answers[index] = record["answer"]
    if not answers:
        raise ConfigError(f"{path}: no answers")
    return answers


def _letter(model, spec, items, indices, loaded, config, letter_prompt, parse_answer) -> list[dict]:
    usable = [(i, item, image) for i, item, (image, error) in zip(indices, items, loaded) if error is None]
    try:
        answers = model.answer_many([letter_prompt(item) for _, item, _ in usable], [img for _, _, img in usable],
                                    GenerationOptions(max_new_tokens=config.max_new_tokens))
    except Exception as error:  # noqa: BLE001 - a failing model (a dead endpoint) is recorded, not fatal
        answers = [None] * len(usable)
        failure = str(error)
    records = {i: {"model": spec, "protocol": "letter", "index": i, "error": e} for i, (_, e) in zip(indices, loaded)
               if e is not None}
    for (i, item, _), answer in zip(usable, answers):
        if answer is None:
            records[i] = {"model": spec, "protocol": "letter", "index": i, "error": failure}
            continue
        chosen = parse_answer(answer, item.candidates)
        records[i] = {"model": spec, "protocol": "letter", "index": i, "answer": answer, "chosen": chosen,
                      "correct": chosen is not None and item.candidates[chosen] == item.correct_ans}
    return [records[i] for i in indices]


def _likelihood(model, spec, items, indices, loaded) -> list[dict]:
    records = []
    for i, item, (image, error) in zip(indices, items, loaded):
        record = {"model": spec, "protocol": "likelihood", "index": i}
        if error is None:
            try:
                whole, tail = model.option_losses(item.question, item.candidates, image)
            except Exception as failure:  # noqa: BLE001 - e.g. an endpoint has no losses: said per item
                error = str(failure)
        if error is not None:
            records.append({**record, "error": error})
            continue
        chosen, chosen_tail = int(min(range(len(whole)), key=whole.__getitem__)), \
            int(min(range(len(tail)), key=tail.__getitem__))
        records.append({**record, "losses": whole, "option_losses": tail, "chosen": chosen,
                        "chosen_option_only": chosen_tail,
                        "correct": item.candidates[chosen] == item.correct_ans,
                        "correct_option_only": item.candidates[chosen_tail] == item.correct_ans})
    return records


def failures(records: list[dict], models: list[str], expected: int | None = None,
             missing_reason: str = "not scored: run again") -> dict:
    """Per model, the items that have no score (an unreadable image, a failed call) and the first reason; with
    `expected`, items missing from the records (a judge that kept failing) count too."""
    out = {}
    for spec in models:
        mine = [r for r in records if r.get("model") == spec]
        errors = [r["error"] for r in mine if "error" in r]
        missing = max(0, expected - len({r.get("index") for r in mine})) if expected is not None else 0
        if errors or missing:
            out[spec] = {"items": len(errors) + missing, "first": errors[0] if errors else missing_reason}
    return out


def a1_summary(items, records: list[dict], config: A1Config) -> dict:
    """Every model's tables from the item records (the same records, the same tables)."""
    from .a1 import Tally

    models: dict[str, dict] = {}
    for spec in config.models:
        tallies = {"letter": Tally.empty(), "likelihood": Tally.empty(), "likelihood_option_only": Tally.empty()}
        seen = set()
        for record in records:
            key = (record.get("protocol"), record.get("index"))
            if record.get("model") != spec or key in seen or not isinstance(record.get("index"), int):
                continue
            seen.add(key)
            item = items[record["index"]] if record["index"] < len(items) else None
            if item is None:
                continue
            error = "error" in record
            if record["protocol"] == "letter":
                tallies["letter"].add(item, record.get("chosen"), error)
            else:
                tallies["likelihood"].add(item, record.get("chosen"), error)
                tallies["likelihood_option_only"].add(item, record.get("chosen_option_only"), error)
        models[spec] = {name: tally.summary() for name, tally in tallies.items() if tally.total.sum()}
    return {"protocol": "a1", "questions": config.questions, "models": models,
            "failed": failures(records, config.models)}


def run_a3(config: A3Config, progress: Progress | None = None) -> dict:
    from ..data.loaders import load_mos_list

    check_config(config)
    out = Path(config.out)
    run = RunFolder(out, "eval-a3")
    with run.hold(config):
        tracker = run.tracker(progress)
        done = _models_done(out / ITEMS)
        sets = []
        for spec in config.mos:
            path, _, name = spec.partition("=")
            rows = load_mos_list(path).items
            sets.append((name or Path(path).stem, Path(config.image_root) if config.image_root else Path(path).parent,
                         rows[:config.limit] if config.limit else rows))
        total, finished = sum(len(rows) for _, _, rows in sets) * len(config.models), len(done)
        for spec in config.models:
            model = _load(spec, config)
            for name, root, rows in sets:
                todo = [i for i in range(len(rows)) if (spec, name, i) not in done]
                for start in range(0, len(todo), config.batch_size):
                    batch = todo[start:start + config.batch_size]
                    for record in _rate_batch(model, spec, name, root, rows, batch):
                        append_line(out / ITEMS, record)
                    finished += len(batch)
                    tracker(finished, total)
        summary = a3_summary(sets, read_jsonl(out / ITEMS), config)
        write_json(out / SUMMARY, summary)
        run.summary = {spec: {d: v["srcc"] for d, v in s.items()} for spec, s in summary["models"].items()}
        return summary


def _rate_batch(model, spec, name, root, rows, batch) -> list[dict]:
    loaded = [_image(root, rows[i].img_path) for i in batch]
    usable = [(i, image) for i, (image, error) in zip(batch, loaded) if error is None]
    try:
        ratings = model.rate([image for _, image in usable], batch_size=max(1, len(usable))) if usable else []
        failure = None
    except Exception as error:  # noqa: BLE001 - recorded for these items; a rerun tries them again
        ratings, failure = [], str(error)
    records = {i: {"model": spec, "dataset": name, "index": i, "error": e} for i, (_, e) in zip(batch, loaded) if e}
    if failure is not None:
        return list(records.values())  # not written as done: the next run rates them again
    for (i, _), rating in zip(usable, ratings):
        records[i] = {"model": spec, "dataset": name, "index": i, "mos": rows[i].gt_score, "p_good": rating.p_good,
                      "good_minus_poor": rating.good_minus_poor, "score5": rating.score5}
    return [records[i] for i in batch if i in records]


def a3_summary(sets, records: list[dict], config: A3Config) -> dict:
    from .a3 import correlate, score

    models: dict[str, dict] = {}
    for spec in config.models:
        per_set = {}
        for name, _, rows in sets:
            got = {r["index"]: r for r in records if r.get("model") == spec and r.get("dataset") == name
                   and "p_good" in r}
            order = sorted(got)
            if not order:
                continue
            mos = [rows[i].gt_score for i in order]
            margins = [got[i]["good_minus_poor"] for i in order]
            scores = score(margins, [0.0] * len(margins), config.temperature) if None not in margins else \
                [got[i]["p_good"] for i in order]
            qalign = correlate([got[i]["score5"] for i in order], mos, name, logistic=False)
            per_set[name] = {**correlate(scores, mos, name).as_dict(), "qalign_srcc": qalign.srcc,
                             "qalign_plcc": qalign.plcc, "of": len(rows)}
        models[spec] = per_set
    return {"protocol": "a3", "temperature": config.temperature, "models": models,
            "failed": failures(records, config.models)}


def run_a2(config: A2Config, progress: Progress | None = None) -> dict:
    from .a2 import QUERY, demo_references, dimension_scores, load_references

    check_config(config)
    references_path = Path(config.references)
    references = demo_references(references_path) if references_path.is_dir() else load_references(
        config.references)
    references = references[:config.limit] if config.limit else references
    root = Path(config.image_root) if config.image_root else (
        references_path if references_path.is_dir() else references_path.parent)
    judge = _judge(config)
    out = Path(config.out)
    run = RunFolder(out, "eval-a2")
    with run.hold(config):
        tracker = run.tracker(progress)
        done = _models_done(out / ITEMS)
        total, finished = len(references) * len(config.models), len(done)
        judge_error = "not scored: run again"
        for spec in config.models:
            model = _load(spec, config)
            todo = [i for i in range(len(references)) if (spec, "a2", i) not in done]
            for start in range(0, len(todo), config.batch_size):
                batch = todo[start:start + config.batch_size]
                loaded = [_image(root, references[i].img_path) for i in batch]
                usable = [(i, image) for i, (image, error) in zip(batch, loaded) if error is None]
                for i, (_, error) in zip(batch, loaded):
                    if error is not None:
                        append_line(out / ITEMS, {"model": spec, "protocol": "a2", "index": i, "error": error})
                descriptions = model.answer_many([QUERY] * len(usable), [image for _, image in usable],
                                                 GenerationOptions(max_new_tokens=config.max_new_tokens))
                for (i, _), description in zip(usable, descriptions):
                    record = {"model": spec, "protocol": "a2", "index": i, "description": description}
                    try:
                        record["scores"] = judge(description, references[i])
                    except UserError as error:  # the judge failed on this item: not written, retried next run
                        run.log(event="judge failed", index=i, error=str(error))
                        judge_error = f"the judge failed ({error}); run again to retry"
                        continue
                    append_line(out / ITEMS, record)
                finished += len(batch)
                tracker(finished, total)
        records = read_jsonl(out / ITEMS)
        summary = {"protocol": "a2", "judge": config.judge, "models": {
            spec: dimension_scores([r["scores"] for r in records if r.get("model") == spec and "scores" in r])
            for spec in config.models}, "failed": failures(records, config.models, len(references), judge_error)}
        write_json(out / SUMMARY, summary)
        run.summary = {spec: s["sum"] for spec, s in summary["models"].items()}
        return summary


def _judge(config: A2Config):
    """A function (description, reference) -> scores: the offline judge, or a model behind an endpoint (which
    gets the environment's key only where the process's policy allows: in a studio job, the operator's
    endpoints)."""
    from .a2 import offline_judge

    if config.judge == "offline":
        return offline_judge
    import asyncio

    from ..convert.backends import create_backend
    from ..convert.cache import ResponseCache

    name, _, url = config.judge[len("openai:"):].partition("@")
    backend = create_backend("openai", model=name, base_url=url or None,
                             cache=ResponseCache(Path(config.out) / ".judge-cache"))

    def judge(description: str, reference) -> dict:
        async def once():
            try:
                return await backend.judge(description, reference.text)
            finally:
                await backend.close()
        return asyncio.run(once())

    return judge


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


def studio_configs(access, evals: Path, name: str, models: list[str], protocols: list[str], questions: str,
                   mos: list[str], references: str, image_root: str, judge: str, limit: int) -> list:
    """The evaluations asked for in the studio, as job configs: models confined to what the studio's users may
    load, data to what they may read, run folders under evals/NAME-PROTOCOL."""
    from ..models.specs import parse_spec
    from ..workspace import safe_name

    if not models:
        raise ConfigError("models: choose at least one model")
    if not name or not name.strip():
        raise ConfigError("run name: give the evaluation a name")
    specs = [parse_spec(spec, access).resolved for spec in models]
    root = str(access.data_path(image_root, "image root")) if image_root else ""
    common = dict(models=specs, image_root=root, limit=int(limit or 0))
    folder = safe_name(name)
    configs = []
    if "A1" in protocols:
        configs.append(A1Config(**common, out=str(evals / f"{folder}-a1"),
                                questions=str(access.data_path(questions, "questions"))))
    if "A3" in protocols:
        sets = [access.data_spec(spec) for spec in mos if spec.strip()]
        configs.append(A3Config(**common, out=str(evals / f"{folder}-a3"), mos=sets))
    if "A2" in protocols:
        configs.append(A2Config(**common, out=str(evals / f"{folder}-a2"),
                                references=str(access.data_path(references, "references")), judge=judge or "offline"))
    if not configs:
        raise ConfigError("protocols: choose A1, A2 or A3")
    for config in configs:
        check_config(config)
    return configs


def run_any(config, progress: Progress | None = None) -> dict:
    """The runner of a config's protocol."""
    return {A1Config: run_a1, A2Config: run_a2, A3Config: run_a3}[type(config)](config, progress)
