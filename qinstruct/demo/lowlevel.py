"""The demo's visual-question subset: perception questions about the *training* images, in Q-Bench's families.

Q-Instruct's VQA subset was written by GPT from the pathway feedbacks in LLVisionQA's own question types
(yes-or-no, what, how; global and in-context).  The offline converter reads the feedback text and words its
questions its own way; a real 7B LLM transfers across wordings, a 2M-parameter micro LM does not (measured:
with the converter's wordings alone the tuned micro model stays at chance on the held-out set, see README).
So the demo's tuned models also learn this set: the same question families as the held-out set, asked with
the same generator about the training images, answered from the world's ground truth (corruption, severity,
MOS).  What stays held out is every image, and the held-out photographs never appear in training.

Each image gets all 12 (type, concern) cells answered with the option's text (what the likelihood protocol
scores), a quarter of them also in letter form answered "B. text" (a copy path from the option to its letter), and
the Q-Align rating turn "Rate the quality of the image." -> "The quality of the image is good." with the level
from the MOS by equal fifths of the world's range (what A3 and the Corrupt tab's score column read).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.levels import level_of
from ..data.records import InstructionItem, Turn
from ..eval.a1 import LETTERS, letter_prompt
from ..models.types import ANSWER_PREFIX, RATING_QUESTION
from ..workspace import world_file
from .questions import CELLS, perception_questions

LETTER_SHARE = 0.25


def _single(item_id: str, image: str, question: str, answer: str, form: str) -> InstructionItem:
    return InstructionItem(item_id, image, [Turn("human", f"<image>\n{question}"), Turn("gpt", answer)],
                           {"form": form, "synthetic": True})


def image_items(rng: np.random.Generator, record: dict, index: int, low: float, high: float) -> list[InstructionItem]:
    """The perception items about one training image (a pathway.jsonl line: the world's meta is flattened into it)."""
    image, items = record["image"], []
    questions = perception_questions(rng, record["content"], record["corruption"], record["severity"] or 0,
                                     record["mos"], list(CELLS))
    for k, question in enumerate(questions):
        items.append(_single(f"vqa-{index:06d}-{k:02d}", image, question.question, question.correct_ans, "direct"))
        if rng.random() < LETTER_SHARE:
            letter = LETTERS[question.candidates.index(question.correct_ans)]
            items.append(_single(f"vqa-{index:06d}-{k:02d}-letter", image, letter_prompt(question).rstrip("\n"),
                                 f"{letter}. {question.correct_ans}", "letter"))
    level = level_of(record["mos"], low, high)
    items.append(_single(f"vqa-{index:06d}-rating", image, RATING_QUESTION, f"{ANSWER_PREFIX} {level}.", "rating"))
    return items


def build_perception_items(world: Path, seed: int) -> list[InstructionItem]:
    """The whole set for a world's training images (pathway.jsonl), reproducible from the seed."""
    records = [json.loads(line) for line in world_file(world, "pathway").read_text(encoding="utf-8").splitlines()]
    scores = [record["mos"] for record in records]
    low, high = min(scores), max(scores)
    items = []
    for index, record in enumerate(records):
        items += image_items(np.random.default_rng([seed, 2, index]), record, index, low, high)
    return items
