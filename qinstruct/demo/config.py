"""WorldConfig, kept apart from the generator so that the CLI can read its defaults without heavy imports."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ConfigError, option

# how much of a corruption's full MOS drop (its severity 5) each severity 1-5 costs in the world's synthetic MOS
SEVERITY_SHAPE = (0.25, 0.45, 0.65, 0.82, 1.0)
# The shipped models' world (issue 20): noise costs more at severities 1-2 than the shape above, so that mild noise
# is no longer "good" like a pristine image, and 40 % of the photo crops are native-resolution windows, so that a
# large photograph's soft native tiles are not read as "fair".  With 0 and SEVERITY_SHAPE the tuned model rated
# real photographs *higher* under mild noise (README, "A micro model on a real photograph").
NATIVE_SHARE = 0.4
NOISE_CURVE = (0.45, 0.6, 0.75, 0.88, 1.0)


def native_share_option():
    return option(NATIVE_SHARE, help="share of photo crops cut near the photograph's own resolution (a window of "
                  "1-1.5 times the image side), as soft as a large photograph's native tiles; the rest shrink 25-100 % "
                  "of its short side", min=0, max=1)


def noise_curve_option():
    return option(default_factory=lambda: list(NOISE_CURVE), metavar="SHARE", gt=0, max=1,
                  help="the noise corruptions' cost at severities 1-5 in the synthetic MOS, as shares of their full "
                  "drop (every other corruption costs " + " ".join(f"{s:g}" for s in SEVERITY_SHAPE) + ")")


def check_noise_curve(curve: list[float]) -> None:
    if len(curve) != 5 or any(later < earlier for earlier, later in zip(curve, curve[1:])):
        raise ConfigError(f"noise_curve: expected 5 shares that never fall (severities 1-5), got {curve}")


@dataclass
class WorldConfig:
    COMMAND: ClassVar = ("demo", "world")
    KIND: ClassVar = "demo-world"

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
    native_share: float = native_share_option()
    noise_curve: list[float] = noise_curve_option()

    def validate(self) -> None:
        check_noise_curve(self.noise_curve)


@dataclass
class ModelsConfig:
    COMMAND: ClassVar = ("demo", "models")

    workspace: str = option("", help="the workspace whose models/ receives the shipped micro models (default: "
                            "$QINSTRUCT_HOME or ./workspace)")
