"""WorldConfig, kept apart from the generator so that the CLI can read its defaults without heavy imports."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import option


@dataclass
class WorldConfig:
    COMMAND: ClassVar = ("demo", "world")

    out: str = option(help="output folder (a run folder; world.json appears when the world is complete)",
                      affects_result=False)
    images: int = option(2000, help="training images (each gets pathway feedbacks)", min=1, max=1_000_000)
    eval_images: int = option(400, help="held-out evaluation images", min=1, max=1_000_000)
    size: int = option(64, help="image side in px (64: what CPU micro models learn from)", min=32, max=1024)
    seed: int = option(0, help="same seed, same files", min=0, max=2**32 - 1)
    pristine_share: float = option(0.1, help="share of images left uncorrupted", min=0, max=1)
    scene_share: float = option(0.5, help="share of procedural scenes (the rest: photo crops)", min=0, max=1)
    feedbacks_per_image: int = option(3, help="pathway feedbacks per image (five styles exist)", min=3, max=5)
    questions_per_eval_image: int = option(2, help="LLVisionQA questions per held-out image", min=1, max=12)
    pair_questions: int = option(40, help="held-out pair questions (two corrupted versions of one image: which is "
                                 "more blurry, noisier, worse)", min=0, max=100_000)


@dataclass
class ModelsConfig:
    COMMAND: ClassVar = ("demo", "models")

    workspace: str = option("", help="the workspace whose models/ receives the shipped micro models (default: "
                            "$QINSTRUCT_HOME or ./workspace)")
