"""The bottom of the model layer: what every model answers, and the plain types around it.

A model -- local weights, a remote endpoint, or a side that failed to load -- answers the same calls
(`ChatModel`): stream a chat turn, rate a batch of images, say what it is, count tokens.  Chat, `rate`, `chat` and
the evaluators never ask which kind they hold.  Nothing here imports torch or transformers.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import ClassVar, Protocol

import numpy as np
from PIL import Image

from ..config import option
from ..data.records import QUALITY_LEVELS
from ..errors import UserError

RATING_QUESTION = "Rate the quality of the image."
ANSWER_PREFIX = "The quality of the image is"
LEVELS = QUALITY_LEVELS  # excellent, good, fair, poor, bad
LEVEL_WEIGHTS = np.array([1.0, 0.75, 0.5, 0.25, 0.0])
DTYPES = ("bfloat16", "float16", "float32")
ADAPTER_NAME = "tuned"  # the LoRA adapter's name inside a PeftModel
BASE_ROW = "__base__"  # peft's row name for "no adapter" in a mixed batch
DEVICES = ("cuda", "cpu", "mps")
MAX_IMAGES = 4  # images in one question, for the families that take several (Co-Instruct asks about up to 4)
RATING_PROMPTS = ("auto", "q-bench", "q-align", "one-align")


class ModelLoadError(UserError, RuntimeError):
    """One line a user can act on: what failed to load and why."""


@dataclass
class LoadOptions:
    device: str | None = option(None, help="where to load weights: cuda, cuda:1, cpu, mps (default: cuda when "
                                "available)")
    dtype: str | None = option(None, help="weights' dtype (default: bfloat16 on a GPU, float32 on the CPU)",
                               choices=DTYPES)
    trust_remote_code: bool = option(False, help="run Python code shipped with a checkpoint (InternLM-XComposer; "
                                     "mPLUG-Owl2 needs none: it is built in); off unless asked")
    cache_dir: str | None = option(None, help="where converted original-LLaVA checkpoints are kept (default: "
                                   "~/.cache/qinstruct/converted)")
    rating_prompt: str = option("auto", choices=RATING_PROMPTS, help="how a local model is asked for a rating: "
                                "q-bench (the chat template, 'Rate the quality of the image.'), q-align (Q-Align's "
                                "scorer prompt) or one-align (One-Align's score() wording), both for mPLUG-Owl2 "
                                "checkpoints only; auto: q-align for mPLUG-Owl2, else q-bench")

    def validate(self) -> None:
        from ..config import ConfigError

        if self.device is not None and self.device.split(":")[0] not in DEVICES:
            raise ConfigError(f"device: expected cuda, cuda:N, cpu or mps, got {self.device!r}")

    def load_options(self) -> LoadOptions:
        """The loading part of a job config that extends LoadOptions."""
        return LoadOptions(**{f.name: getattr(self, f.name) for f in fields(LoadOptions)})


@dataclass
class GenerationOptions:
    max_new_tokens: int = option(256, help="longest answer, in tokens", min=1, max=32768)
    temperature: float = option(0.0, help="temperature (0: greedy decoding, as in the paper; above 0 samples)",
                                min=0, max=5)
    top_p: float = option(1.0, help="top-p, the nucleus sampling mass (with temperature > 0)", gt=0, max=1)
    seed: int = option(0, help="sampling seed", min=0, max=2**32 - 1)

    def generate_kwargs(self) -> dict:
        if self.temperature <= 0:
            return {"do_sample": False, "max_new_tokens": self.max_new_tokens}
        return {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens}

    def generation_options(self) -> GenerationOptions:
        """The decoding part of a job config that extends GenerationOptions."""
        return GenerationOptions(**{f.name: getattr(self, f.name) for f in fields(GenerationOptions)})


def image_list(image) -> list[Image.Image]:
    """A question's images: none, one, or several (a list), as a list."""
    if image is None:
        return []
    return list(image) if isinstance(image, (list, tuple)) else [image]


@dataclass
class Turn:
    user: str
    assistant: str | None = None


@dataclass
class Rating:
    p_good: float  # softmax over (good, poor)
    level_probs: dict[str, float]  # softmax over the five levels
    score: float  # Q-Align score on [0, 1]
    approximate: bool = False  # True when a remote server gave no logprobs (one-hot from the answer's word)
    good_minus_poor: float | None = None  # logit(" good") - logit(" poor"): Q-Bench's A3 score at any temperature
    spread: float | None = None  # P(good)'s standard deviation over the tiles rated (micro models, large images)
    tiles: int = 1  # how many tiles of the image the rating averages
    prompt: str = "q-bench"  # which rating prompt produced it (models/rating.py)

    @property
    def score5(self) -> float:
        return 1 + 4 * self.score

    def line(self) -> str:
        top = max(self.level_probs, key=self.level_probs.get)
        tiles = f"  (mean of {self.tiles} tiles, ± {self.spread:.3f})" if self.tiles > 1 else ""
        prompt = {"q-align": "  [Q-Align prompt]", "one-align": "  [One-Align score() prompt]"}.get(self.prompt, "")
        return f"P(good)={self.p_good:.4f}  Q-Align={self.score5:.3f}/5  ({top}){tiles}{prompt}"

    def as_dict(self) -> dict:
        return {"p_good": self.p_good, "levels": self.level_probs, "score5": self.score5,
                "approximate": self.approximate, "good_minus_poor": self.good_minus_poor, "prompt": self.prompt,
                **({"tiles": self.tiles, "p_good_spread": self.spread} if self.tiles > 1 else {})}


def softmax(x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = x / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def ratings_from_level_logits(levels: np.ndarray, temperature: float = 1.0, approximate: bool = False
                              ) -> list[Rating]:
    """(batch, 5) logits (or log-probabilities) of the five levels -> ratings.  P(good) is the softmax of the
    good and poor entries at `temperature` (Q-Bench uses 100 for its A3 score; SRCC does not depend on it);
    the Q-Align distribution is the softmax of all five at T = 1.  -inf entries (a level a server did not
    report) count as probability 0."""
    levels = np.where(np.isneginf(levels), -1e9, np.asarray(levels, dtype=np.float64))
    good_poor = softmax(levels[:, [1, 3]], temperature)[:, 0]
    level_probs = softmax(levels)
    margins = levels[:, 1] - levels[:, 3]
    return [Rating(float(g), dict(zip(LEVELS, map(float, p))), float(p @ LEVEL_WEIGHTS), approximate,
                   None if approximate or abs(m) >= 1e8 else float(m))
            for g, p, m in zip(good_poor, level_probs, margins)]


class ChatModel(Protocol):
    """What every model of the studio answers, local or remote."""
    spec: str
    label: str
    trained: bool
    kind: ClassVar[str]

    def stream(self, turns: list[Turn], image: Image.Image | None,
               options: GenerationOptions | None = None) -> Iterator[str]: ...

    def rate(self, images: list[Image.Image], batch_size: int = 16) -> list[Rating]: ...

    def answer_many(self, questions: list[str], images: list[Image.Image | None],
                    options: GenerationOptions | None = None) -> list[str]: ...

    def option_losses(self, question: str, options: list[str], image: Image.Image | None
                      ) -> tuple[list[float], list[float]]: ...

    def count_tokens(self, text: str) -> int | None: ...

    def describe(self) -> dict: ...

    def bind(self, api_key: str | None) -> ChatModel: ...

    def warm_up(self) -> None: ...

    def compile(self) -> int: ...


@dataclass
class FailedModel:
    """A side that could not load: every call raises its error, so the other side of a pair keeps working
    and this one says why."""
    spec: str
    error: UserError  # ModelLoadError, or AccessDenied for a spec outside what the studio may load
    trained: bool = False
    kind: ClassVar[str] = "failed"

    @property
    def label(self) -> str:
        return f"⚠ {self.error}"

    def stream(self, turns, image, options=None) -> Iterator[str]:
        raise self.error

    def rate(self, images, batch_size: int = 16) -> list[Rating]:
        raise self.error

    def answer_many(self, questions, images, options=None) -> list[str]:
        raise self.error

    def option_losses(self, question, options, image):
        raise self.error

    def count_tokens(self, text: str) -> int | None:
        return None

    def describe(self) -> dict:
        return {"spec": self.spec, "kind": self.kind, "error": str(self.error)}

    def bind(self, api_key: str | None) -> FailedModel:
        return self

    def warm_up(self) -> None:
        pass

    def compile(self) -> int:
        return 0
