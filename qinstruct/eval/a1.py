"""Q-Bench A1, perception: LLVisionQA multiple-choice questions, two protocols.

letter      the official LLaVA wording, greedy answer, strict reading: the answer must be the letter ("B",
            "B.", "(B)"), the letter with its option text ("B. motion blur"), or exactly one option's text.
            Anything else is *unparsed* and counted wrong -- never guessed ("A cat." is not option A).
likelihood  Q-Bench's perplexity variant (example_code_for_idefics/a1_perception_demo_perplexity.py): each
            option appended to the prompt, the model's mean loss over the whole sequence (labels = input ids),
            the lowest wins; beside it, the cleaner mean over the option's own tokens.  All options of a
            question go in one batch.

Accuracy is reported per question type (Yes-or-No, What, How), per concern (Distortion, Other, In-context
Distortion, In-context Other) and overall as correct.sum() / all.sum() of the 3 x 4 table.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

import numpy as np

from ..data.records import QUESTION_CONCERNS, QUESTION_TYPES, LLVisionQAItem

INSTRUCTION = "Answer with the option's letter from the given choices directly."
LETTERS = "ABCD"


def letter_prompt(item: LLVisionQAItem) -> str:
    """The question as the official LLaVA evaluation asks it (DESIGN.md, "A1 prompt")."""
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
    """Correct / total counts in the 3 x 4 table of question type by concern."""
    correct: np.ndarray  # (3, 4)
    total: np.ndarray
    unparsed: int = 0
    errors: int = 0  # items that could not be asked (a missing image, a failing model): counted wrong

    @classmethod
    def empty(cls) -> "Tally":
        return cls(np.zeros((3, 4), dtype=int), np.zeros((3, 4), dtype=int))

    def add(self, item: LLVisionQAItem, chosen: int | None, error: bool = False) -> None:
        self.total[item.type, item.concern] += 1
        if error:
            self.errors += 1
        elif chosen is None:
            self.unparsed += 1
        elif item.candidates[chosen] == item.correct_ans:
            self.correct[item.type, item.concern] += 1

    def summary(self) -> dict:
        def rate(correct, total) -> float | None:
            return float(correct / total) if total else None

        n = int(self.total.sum())
        return {"n": n, "correct": int(self.correct.sum()), "unparsed": self.unparsed, "errors": self.errors,
                "overall": rate(self.correct.sum(), n),
                "by_type": {QUESTION_TYPES[t]: rate(self.correct[t].sum(), self.total[t].sum()) for t in range(3)},
                "by_concern": {QUESTION_CONCERNS[c]: rate(self.correct[:, c].sum(), self.total[:, c].sum())
                               for c in range(4)}}


def score_answers(items: list[LLVisionQAItem], answers: dict[int, str]) -> dict:
    """Recorded answers ({question index: answer text}) scored under the letter protocol; a question without
    an answer counts as unparsed."""
    tally = Tally.empty()
    for index, item in enumerate(items):
        tally.add(item, parse_answer(answers[index], item.candidates) if index in answers else None)
    return tally.summary()
