"""WorldConfig, kept apart from the generator so that the CLI can read its defaults without heavy imports."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ConfigError


@dataclass
class WorldConfig:
    out: str = field(metadata={"help": "output folder"})
    images: int = field(default=2000, metadata={"help": "training images (each gets pathway feedbacks)"})
    eval_images: int = field(default=400, metadata={"help": "held-out evaluation images"})
    size: int = field(default=64, metadata={"help": "image side in px (64: what CPU micro models learn from)"})
    seed: int = field(default=0, metadata={"help": "same seed, same files"})
    pristine_share: float = field(default=0.1, metadata={"help": "share of images left uncorrupted"})
    scene_share: float = field(default=0.5, metadata={"help": "share of procedural scenes (rest: photo crops)"})
    feedbacks_per_image: int = field(default=3, metadata={"help": "pathway feedbacks per image (>= 3)"})
    questions_per_eval_image: int = field(default=2, metadata={"help": "LLVisionQA questions per held-out image"})

    def validate(self) -> None:
        if self.images < 1 or self.eval_images < 1:
            raise ConfigError("images and eval_images must be at least 1")
        if not 32 <= self.size <= 1024:
            raise ConfigError("size must be in 32..1024 px")
        if not 0 <= self.pristine_share <= 1 or not 0 <= self.scene_share <= 1:
            raise ConfigError("pristine_share and scene_share must be in [0, 1]")
        if not 3 <= self.feedbacks_per_image <= 5:
            raise ConfigError("feedbacks_per_image must be 3..5 (five styles exist)")
        if self.questions_per_eval_image < 1:
            raise ConfigError("questions_per_eval_image must be at least 1")
