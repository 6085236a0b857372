"""Typed records for every data format the studio reads and writes: Q-Instruct, Q-Bench and Q-Pathway as their
releases ship them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# LLVisionQA (Q-Bench A1) codes, exactly as the benchmark defines them.  Note: one popular harness swaps
# What and How; the codes below are the benchmark's own.
QUESTION_TYPES = {0: "Yes-or-No", 1: "What", 2: "How"}
QUESTION_CONCERNS = {0: "Distortion", 1: "Other", 2: "In-context Distortion", 3: "In-context Other"}
IMAGE_TOKENS = ("<image>", "<|image|>")  # LLaVA, mPLUG-Owl-2
# Q-Align's five quality levels, best first (weights 1, .75, .5, .25, 0): the one list every module uses
QUALITY_LEVELS = ("excellent", "good", "fair", "poor", "bad")


@dataclass(slots=True)
class Turn:
    role: str  # "human" | "gpt"
    value: str


@dataclass(slots=True)
class InstructionItem:
    """Q-Instruct / LLaVA instruction item: an image and a conversation about it."""

    id: str
    image: str | None  # relative to an image folder; None for text-only items
    conversations: list[Turn]
    meta: dict[str, Any] = field(default_factory=dict)  # type, qtype, gt_score, provenance, ...

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.image is not None:
            out["image"] = self.image
        out["conversations"] = [{"from": t.role, "value": t.value} for t in self.conversations]
        out.update(self.meta)
        return out


@dataclass(slots=True)
class PathwayRecord:
    """Q-Pathway, our native JSONL: one image, its source dataset, its MOS on [0, 100] and its feedbacks."""

    image: str
    source: str
    mos: float | None
    feedbacks: list[str]
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. synthetic: true, corruption, severity, content

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "source": self.source, "mos": self.mos, "feedbacks": self.feedbacks, **self.meta}


@dataclass(slots=True)
class MosItem:
    """One row of a Q-Bench A3 MOS list ({"img_path", "gt_score"}, optionally "std": the raters' standard
    deviation, which DeQA-Score's soft labels need); the score on the file's own scale."""

    img_path: str
    gt_score: float
    std: float | None = None


@dataclass(slots=True)
class QBenchOutput:
    """One object of a Q-Bench output file: the MOS row plus the model's logits (logit_good, logit_poor, ...)."""

    img_path: str
    gt_score: float
    logits: dict[str, float]


@dataclass(slots=True)
class LLVisionQAItem:
    """One LLVisionQA (Q-Bench A1) question."""

    img_path: str
    question: str
    candidates: list[str]
    correct_ans: str
    type: int  # QUESTION_TYPES
    concern: int  # QUESTION_CONCERNS
    meta: dict[str, Any] = field(default_factory=dict)
    pair_path: str | None = None  # a pair question (Q-Bench2, Co-Instruct): the second image

    @property
    def images(self) -> list[str]:
        return [self.img_path] + ([self.pair_path] if self.pair_path else [])

    @property
    def type_name(self) -> str:
        return QUESTION_TYPES[self.type]

    @property
    def concern_name(self) -> str:
        return QUESTION_CONCERNS[self.concern]

    def to_json(self) -> dict[str, Any]:
        return {"img_path": self.images if self.pair_path else self.img_path, "question": self.question,
                "candidates": self.candidates, "correct_ans": self.correct_ans, "type": self.type,
                "concern": self.concern, **self.meta}
