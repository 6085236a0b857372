"""The instruction items a conversion produces, in Q-Instruct / LLaVA JSON, and their validation.

Subsets (the paper's): pathway, yes-no, what, how, context (attribute grounded to content or position),
extended (multi-turn conversations).  What / how / context questions come in two forms: multiple-choice
(options A-D, shuffled, one correct, answered by letter and option) and direct answer.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np

SUBSETS = ("pathway", "yes-no", "what", "how", "context", "extended")
MCQ_INSTRUCTION = "Answer with the option's letter from the given choices directly."
LETTERS = "ABCD"


@dataclass
class Provenance:
    feedback_id: str
    backend: str
    model: str
    prompt_version: str

    def as_dict(self) -> dict:
        return {"feedback_id": self.feedback_id, "backend": self.backend, "model": self.model,
                "prompt_version": self.prompt_version}


@dataclass
class Item:
    """One instruction item before it is written: enough to build LLaVA JSON and to validate."""

    subset: str
    turns: list[tuple[str, str]]  # (question, answer) pairs; the image token goes into the first question
    form: str = "direct"  # direct | mcq | yes-no | conversation | pathway
    options: list[str] | None = None  # mcq
    answer: str | None = None  # the correct option text (mcq) or yes / no
    flags: list[str] = field(default_factory=list)

    def to_json(self, item_id: str, image: str | None, provenance: Provenance) -> dict:
        conversations = []
        for k, (question, answer) in enumerate(self.turns):
            conversations.append({"from": "human", "value": f"<image>\n{question}" if k == 0 and image else question})
            conversations.append({"from": "gpt", "value": answer})
        out = {"id": item_id, "image": image, "conversations": conversations, "type": self.subset, "form": self.form,
               "provenance": provenance.as_dict()}
        if image is None:
            out.pop("image")
        if self.flags:
            out["flags"] = list(self.flags)
        return out


def stable_rng(*parts: str) -> np.random.Generator:
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def mcq(subset: str, question: str, correct: str, distractors: list[str], rng: np.random.Generator) -> Item:
    pool = [d for d in dict.fromkeys(distractors) if d.lower() != correct.lower()]
    chosen = [pool[i] for i in rng.permutation(len(pool))[:3]]
    options = [str(o) for o in rng.permutation([correct, *chosen])]
    letter = LETTERS[options.index(correct)]
    text = question + "\n" + "".join(f"{LETTERS[i]}. {o}\n" for i, o in enumerate(options)) + MCQ_INSTRUCTION
    return Item(subset, [(text, f"{letter}. {correct}")], "mcq", options, correct)


def direct(subset: str, question: str, answer: str) -> Item:
    return Item(subset, [(question, _sentence(answer))], "direct", None, answer)


def yes_no(subset: str, question: str, yes: bool) -> Item:
    return Item(subset, [(question, "Yes." if yes else "No.")], "yes-no", ["yes", "no"], "yes" if yes else "no")


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]) + ("" if text.endswith((".", "!", "?")) else ".")


# ------------------------------------------------------------------------------------------------ validation


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z][a-z-]+", text.lower()))


def validate(item: Item) -> list[str]:
    """Problems with one item (empty list: valid).  Checks the rules of the paper's VQA subset: an answer among
    its options, exactly one correct option, no answer leaked into the question."""
    problems = []
    if not item.turns or any(not q.strip() or not a.strip() for q, a in item.turns):
        problems.append("empty question or answer")
    if item.form == "mcq":
        options = item.options or []
        if not 2 <= len(options) <= 4:
            problems.append(f"{len(options)} options (need 2 to 4)")
        if len({o.strip().lower() for o in options}) != len(options):
            problems.append("duplicate options")
        matches = [o for o in options if o.strip().lower() == (item.answer or "").strip().lower()]
        if len(matches) != 1:
            problems.append("the answer is not exactly one of the options")
        stem = item.turns[0][0].split("\n")[0]
        if item.answer and len(item.answer) > 2 and re.search(rf"\b{re.escape(item.answer.lower())}\b", stem.lower()):
            problems.append("the answer is leaked in the question")
    elif item.form == "yes-no":
        if item.answer not in ("yes", "no"):
            problems.append("a yes/no answer must be yes or no")
    elif item.form == "direct" and item.answer:
        question = item.turns[0][0]
        answer_words = _words(item.answer) - {"the", "image", "is", "of", "a", "an", "in", "quality"}
        if answer_words and answer_words <= _words(question) and len(item.answer) > 3:
            problems.append("the answer is leaked in the question")
    return problems


def yes_no_balance(items: list[Item]) -> tuple[int, int]:
    yes = sum(1 for i in items if i.form == "yes-no" and i.answer == "yes")
    no = sum(1 for i in items if i.form == "yes-no" and i.answer == "no")
    return yes, no
