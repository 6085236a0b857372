"""Q-Bench A1, perception: LLVisionQA multiple-choice questions, two protocols.

letter      the official LLaVA wording, greedy answer, strict reading: the answer must be the letter ("B",
            "B.", "(B)"), the letter with its option text ("B. motion blur"), or exactly one option's text.
            Anything else is *unparsed* and counted wrong -- never guessed ("A cat." is not option A).
likelihood  Q-Bench's perplexity variant (example_code_for_idefics/a1_perception_demo_perplexity.py): each
            option appended to the prompt, the model's mean loss over the whole sequence (labels = input ids),
            the lowest wins; beside it, the cleaner mean over the option's own tokens.  All options of a
            question go in one batch.

Accuracy is reported per question type (Yes-or-No, What, How), per concern (Distortion, Other, In-context
Distortion, In-context Other) and overall as correct.sum() / all.sum() of the 3 x 4 table, over the scored items:
an unparsed answer is scored (wrong); an item that never got an answer (its image could not be read, the model
failed) is *unscored*, counted apart and left out of the accuracies.
"""
from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..config import ConfigError, option
from ..data.records import QUESTION_CONCERNS, QUESTION_TYPES, LLVisionQAItem
from ..models.types import GenerationOptions
from .tables import Table
from .types import EvalModels, Protocol, Scoring, Unit, failures, image_of

INSTRUCTION = "Answer with the option's letter from the given choices directly."
LETTERS = "ABCD"


def letter_prompt(item: LLVisionQAItem) -> str:
    """The question as the official LLaVA evaluation asks it (its model_vqa_qbench script): the question, the
    lettered candidates, then the instruction to answer with the letter."""
    options = "".join(f"{LETTERS[i]}. {text}\n" for i, text in enumerate(item.candidates))
    return f"{item.question}\n{INSTRUCTION}\n{options}"


def _plain(text: str) -> str:
    return " ".join(text.lower().strip().strip(string.punctuation + " ").split())


def parse_answer(answer: str, candidates: list[str]) -> int | None:
    """The chosen option's index, or None when the answer is not strictly one option."""
    text = answer.strip()
    letters = LETTERS[:len(candidates)]
    match = re.fullmatch(rf"\(?([{letters}])\)?[.):]?", text)
    if match:
        return letters.index(match.group(1))
    match = re.fullmatch(rf"\(?([{letters}])\)?[.):]\s+(.+)", text, flags=re.S)
    if match and _plain(match.group(2)) == _plain(candidates[letters.index(match.group(1))]):
        return letters.index(match.group(1))
    same = [i for i, option in enumerate(candidates) if _plain(option) == _plain(text)]
    return same[0] if len(same) == 1 else None


@dataclass
class Tally:
    """Correct / scored counts in the 3 x 4 table of question type by concern."""
    correct: np.ndarray  # (3, 4)
    total: np.ndarray  # scored items: answered, parsed or not
    unparsed: int = 0  # answered, but not with one option: scored, wrong (Q-Bench's rule)
    unscored: int = 0  # never answered (a missing image, a failing model): not in `total`, so no accuracy falls
    # to 0.000 because a folder was wrong or an endpoint was down
    pair_correct: int = 0  # pair questions (two images), also counted in the table above
    pair_total: int = 0

    @classmethod
    def empty(cls) -> Tally:
        return cls(np.zeros((3, 4), dtype=int), np.zeros((3, 4), dtype=int))

    def add(self, item: LLVisionQAItem, chosen: int | None, error: bool = False) -> None:
        if error:
            self.unscored += 1
            return
        self.total[item.type, item.concern] += 1
        self.pair_total += bool(item.pair_path)
        if chosen is None:
            self.unparsed += 1
        elif item.candidates[chosen] == item.correct_ans:
            self.correct[item.type, item.concern] += 1
            self.pair_correct += bool(item.pair_path)

    def summary(self) -> dict:
        def rate(correct, total) -> float | None:
            return float(correct / total) if total else None

        n = int(self.total.sum())  # scored items: every accuracy below is over these
        return {"n": n, "correct": int(self.correct.sum()), "unparsed": self.unparsed, "unscored": self.unscored,
                "overall": rate(self.correct.sum(), n),
                "by_type": {QUESTION_TYPES[t]: rate(self.correct[t].sum(), self.total[t].sum()) for t in range(3)},
                "by_concern": {QUESTION_CONCERNS[c]: rate(self.correct[:, c].sum(), self.total[:, c].sum())
                               for c in range(4)},
                "pairs": rate(self.pair_correct, self.pair_total), "pairs_n": self.pair_total}


def score_answers(items: list[LLVisionQAItem], answers: dict[int, str]) -> dict:
    """Recorded answers ({question index: answer text}) scored under the letter protocol; a question without
    an answer counts as unparsed."""
    tally = Tally.empty()
    for index, item in enumerate(items):
        tally.add(item, parse_answer(answers[index], item.candidates) if index in answers else None)
    return tally.summary()


PROTOCOLS = ("letter", "likelihood")
COLUMNS = [*QUESTION_TYPES.values(), *QUESTION_CONCERNS.values(), "Overall"]
TITLES = {"letter": "A1 perception, letter protocol (accuracy)",
          "likelihood": "A1 perception, likelihood protocol (Q-Bench's perplexity variant, whole sequence)",
          "likelihood_option_only": "A1 perception, likelihood over the option's tokens"}


@dataclass(kw_only=True)
class A1Config(EvalModels):
    COMMAND: ClassVar = ("eval", "a1")

    questions: str = option(help="LLVisionQA questions (JSON list, or the Hugging Face rows variant)", path="file")
    protocols: list[str] = option(default_factory=lambda: list(PROTOCOLS), help="letter: the official prompt and "
                                  "a strict reading of the answer; likelihood: the lowest loss among the options",
                                  choices=PROTOCOLS)
    answers: str = option("", help="score recorded answers instead of a model: JSON Lines of {index, answer}",
                         path="file")
    max_new_tokens: int = option(16, help="longest letter answer", min=1, max=4096)

    def validate(self) -> None:
        super().validate()
        if bool(self.models) == bool(self.answers):
            raise ConfigError("give --model (one or more) or --answers, not both and not neither")


def questions_of(config: A1Config) -> list[LLVisionQAItem]:
    from ..data.loaders import load_llvisionqa

    items = load_llvisionqa(config.questions).items
    return items[:config.limit] if config.limit else items


def units(config: A1Config) -> list[Unit]:
    root = Path(config.image_root) if config.image_root else Path(config.questions).parent
    items = questions_of(config)
    def images(item):
        return tuple(image_of(root, path) for path in item.images) if item.pair_path else image_of(root, item.img_path)

    return [Unit(protocol, i, item, images(item)) for protocol in config.protocols for i, item in enumerate(items)]


def score(scoring: Scoring, batch: list[Unit]) -> list[dict]:
    letters = [u for u in batch if u.part == "letter"]
    likely = [u for u in batch if u.part == "likelihood"]
    return _letter(scoring, letters) + _likelihood(scoring, likely)


def _letter(scoring: Scoring, batch: list[Unit]) -> list[dict]:
    if not batch:
        return []
    loaded = scoring.images(batch)
    usable = [(unit, image) for unit, (image, error) in zip(batch, loaded) if error is None]
    try:
        answers = scoring.model.answer_many([letter_prompt(u.item) for u, _ in usable], [img for _, img in usable],
                                            GenerationOptions(max_new_tokens=scoring.config.max_new_tokens))
        failure = None
    except Exception as error:  # noqa: BLE001 - a failing model (a dead endpoint) is recorded, not fatal
        answers, failure = [None] * len(usable), str(error)
    records = {u.index: scoring.record(A1, u, error=e) for u, (_, e) in zip(batch, loaded) if e is not None}
    for (unit, _), answer in zip(usable, answers):
        if answer is None:
            records[unit.index] = scoring.record(A1, unit, error=failure)
            continue
        chosen = parse_answer(answer, unit.item.candidates)
        records[unit.index] = scoring.record(A1, unit, answer=answer, chosen=chosen, correct=chosen is not None and
                                             unit.item.candidates[chosen] == unit.item.correct_ans)
    return [records[u.index] for u in batch]


def _likelihood(scoring: Scoring, batch: list[Unit]) -> list[dict]:
    records = []
    for unit, (image, error) in zip(batch, scoring.images(batch)):
        item = unit.item
        if error is None:
            try:
                whole, tail = scoring.model.option_losses(item.question, item.candidates, image)
            except Exception as failure:  # noqa: BLE001 - e.g. an endpoint has no losses: said per item
                error = str(failure)
        if error is not None:
            records.append(scoring.record(A1, unit, error=error))
            continue
        chosen = int(min(range(len(whole)), key=whole.__getitem__))
        chosen_tail = int(min(range(len(tail)), key=tail.__getitem__))
        records.append(scoring.record(A1, unit, losses=whole, option_losses=tail, chosen=chosen,
                                      chosen_option_only=chosen_tail,
                                      correct=item.candidates[chosen] == item.correct_ans,
                                      correct_option_only=item.candidates[chosen_tail] == item.correct_ans))
    return records


def summarize(config: A1Config, units: list[Unit], records: list[dict], missing_reason: str) -> dict:
    """Every model's tables from the item records (the same records, the same tables)."""
    items = {u.index: u.item for u in units}
    models: dict[str, dict] = {}
    for spec in config.models:
        tallies = {"letter": Tally.empty(), "likelihood": Tally.empty(), "likelihood_option_only": Tally.empty()}
        seen = set()
        for record in records:
            key = (record.get("protocol"), record.get("index"))
            if record.get("model") != spec or key in seen or record.get("index") not in items:
                continue
            seen.add(key)
            item, error = items[record["index"]], "error" in record
            if record["protocol"] == "letter":
                tallies["letter"].add(item, record.get("chosen"), error)
            else:
                tallies["likelihood"].add(item, record.get("chosen"), error)
                tallies["likelihood_option_only"].add(item, record.get("chosen_option_only"), error)
        models[spec] = {name: tally.summary() for name, tally in tallies.items()
                        if tally.total.sum() or tally.unscored}
    return {"protocol": "a1", "questions": config.questions, "models": models,
            "failed": failures(records, config.models, len(units), missing_reason)}


def row(summary: dict, pairs: bool = False) -> list[float | None]:
    """A model's table row; with `pairs`, the pair questions' accuracy before Overall."""
    return [*(summary["by_type"][t] for t in QUESTION_TYPES.values()),
            *(summary["by_concern"][c] for c in QUESTION_CONCERNS.values()),
            *([summary.get("pairs")] if pairs else []), summary["overall"]]


def has_pairs(summary: dict, protocol: str) -> bool:
    return any(s[protocol].get("pairs_n") for s in summary["models"].values() if protocol in s)


SHORT = {"letter": "letter", "likelihood": "whole sequence", "likelihood_option_only": "option tokens"}


def separation(summary: dict, protocol: str) -> float:
    """How far apart the models' overall accuracies are under a protocol (0 with one model)."""
    values = [s[protocol]["overall"] for s in summary["models"].values()
              if protocol in s and s[protocol]["overall"] is not None]
    return max(values) - min(values) if len(values) > 1 else 0.0


def by_separation(summary: dict) -> list[str]:
    """The protocols present, the one that separates the models most first (a slide shows that one)."""
    present = [p for p in TITLES if any(p in s for s in summary["models"].values())]
    return sorted(present, key=lambda p: -separation(summary, p))


def tables(summary: dict) -> list[Table]:
    out = []
    for protocol in by_separation(summary):
        pairs = has_pairs(summary, protocol)
        rows = {m: row(s[protocol], pairs) for m, s in summary["models"].items() if protocol in s}
        counts = {m: s[protocol].get("n") for m, s in summary["models"].items() if protocol in s}
        unscored = {m: s[protocol].get("unscored", 0) for m, s in summary["models"].items() if protocol in s}
        columns = [*COLUMNS[:-1], "Pairs", COLUMNS[-1]] if pairs else COLUMNS
        out.append(Table(TITLES[protocol], columns, rows, counts=counts, unscored=unscored))
    return out


def radar(summary: dict) -> dict[str, dict[str, float | None]]:
    """A1 by type and concern, from the protocol that separates the models most, named on each axis."""
    order = by_separation(summary)
    out = {}
    for model, result in summary["models"].items():
        protocol = next((p for p in order if p in result), None)
        if protocol:
            out[model] = {f"A1 {name} ({SHORT[protocol]})": value
                          for name, value in zip(COLUMNS[:-1], row(result[protocol])[:-1])}
    return out


def scaling(summary: dict) -> dict[str, dict[str, float]]:
    return {model: {f"A1 {p}": result[p]["overall"] for p in PROTOCOLS
                    if p in result and result[p]["overall"] is not None}
            for model, result in summary["models"].items()}


def headline(summary: dict) -> dict:
    return {spec: {p: s.get(p, {}).get("overall") for p in s} for spec, s in summary["models"].items()}


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


def from_answers(config: A1Config) -> dict:
    """Recorded answers scored under the letter protocol; questions without one are counted (exit 3)."""
    items = questions_of(config)
    answers = recorded_answers(config.answers, len(items))
    result = score_answers(items, answers)
    unanswered = [i for i in range(len(items)) if i not in answers]
    if unanswered:  # counted as unparsed, said, and exit 3: the figure is over answers that are not all there
        result["failed"] = {config.answers: {"items": len(unanswered),
                                             "first": f"question {unanswered[0]} has no answer"}}
    return result


A1 = Protocol(
    "a1", "A1 perception", "A1 perception: LLVisionQA accuracy by type and concern (letter and likelihood protocols)",
    A1Config, units, score, summarize, tables, radar, headline, part_field="protocol", scaling=scaling,
    without_models=from_answers, form_skip=("answers",))
