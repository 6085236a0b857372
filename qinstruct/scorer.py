"""A scorer API in the style image-quality users know (pyiqa's `create_metric` / `list_models`, Q-Align's
`model.score(images)`), on any local model the studio loads:

    from qinstruct import create_scorer, list_scorers
    scorer = create_scorer("micro-mix", kind="p_good")          # or a folder, a hub id in the cache, tiny:llava
    scores = scorer(["a.jpg", "b.png"])                          # tensor([0.71, 0.18], dtype=torch.float64)
    scorer.score_range, scorer.lower_better                      # (0.0, 1.0), False

What the field's trackers ask for and this gives: fp32 on the CPU (fp16 there is refused, not half-run),
deterministic (no sampling, nothing random), batch-invariant (a batch gives each image the score it gets alone,
within 1e-5 in fp32: every image's prompt has the same length, so no row is padded), and a self-check
(`self_check()`, `qinstruct rate --self-check --model M`) that scores fall as the project's own corruptions get
stronger, which catches a broken load before anyone trusts the scores.  Endpoints are refused: their scores are
neither deterministic nor batch-invariant.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .models.selfcheck import SelfCheck, self_check
from .models.types import Rating


class ScorerError(UserError, ValueError):
    """One line: why a scorer cannot be made or cannot score these inputs."""


@dataclass(frozen=True)
class ScoreKind:
    name: str
    score_range: tuple[float, float]
    lower_better: bool
    description: str
    value: Callable[[Rating], float] = field(repr=False)


SCORE_KINDS = {
    "p_good": ScoreKind("p_good", (0.0, 1.0), False, "P(good): softmax of the next token's 'good' and 'poor' logits "
                        "after the rating prompt (Q-Bench A3)", lambda rating: rating.p_good),
    "qalign": ScoreKind("qalign", (1.0, 5.0), False, "Q-Align's score: the five levels' probabilities (excellent .. "
                        "bad) weighted 5 .. 1", lambda rating: rating.score5),
}


def list_scorers() -> list[str]:
    """Names `create_scorer` takes besides any model spec: the shipped demo models, and the known checkpoints
    (models/known.py) whose weights are in the local cache."""
    from .models.known import KNOWN, SHIPPED, local_path

    shipped = sorted(p.name for p in SHIPPED.iterdir() if (p / "config.json").is_file()) if SHIPPED.is_dir() else []
    return shipped + [k.name for k in KNOWN if k.family and local_path(k)]


def resolve_name(name: str) -> str:
    """A scorer name (a shipped demo model, a known checkpoint) to a model spec; any other text is a spec."""
    from .models.known import KNOWN, SHIPPED

    if (SHIPPED / name / "config.json").is_file():
        return str(SHIPPED / name)
    return next((k.hub_id for k in KNOWN if k.name == name), name)


class Scorer:
    def __init__(self, model, kind: ScoreKind, batch_size: int):
        self.model, self.kind, self.batch_size = model, kind, batch_size
        self.score_range, self.lower_better = kind.score_range, kind.lower_better

    @property
    def spec(self) -> str:
        return self.model.spec

    def __repr__(self) -> str:
        return f"Scorer({self.spec!r}, kind={self.kind.name!r}, range={self.score_range})"

    def __call__(self, images, batch_size: int | None = None):
        """Scores of images: a path, a PIL image, a float tensor (3, H, W) / (N, 3, H, W) with values in [0, 1], a
        uint8 NumPy array (H, W, 3) / (N, H, W, 3) as np.asarray(pil_image) gives, or a list of single images of
        those kinds; a float64 tensor of N scores, in input order.  No images (an empty list, a tensor or array
        with N = 0) give an empty tensor, whichever way they come.  Anything else raises one ScorerError."""
        import torch

        size = self.batch_size if batch_size is None else checked_batch_size(batch_size)
        pictures = as_pil_list(images)
        ratings = self.model.rate(pictures, batch_size=size) if pictures else []
        return torch.tensor([self.kind.value(rating) for rating in ratings], dtype=torch.float64)

    def self_check(self, images=None, seed: int = 0) -> SelfCheck:
        """Score each image as the model sees it and corrupted there (defocus blur, Gaussian noise at severities
        1 / 3 / 5): the mean score must fall with severity (rank correlation ≤ -0.8, and 10 % of the range lower
        at 5 than pristine).  No images: the demo photographs."""
        pictures = as_pil_list(images) if images is not None else None
        if pictures is not None and not pictures:  # a mean over no image means nothing
            raise ScorerError("self_check: no images; give at least one, or none at all for the demo photos")
        return self_check(self.model, self.kind, pictures, seed, self.batch_size)


IMAGES_TAKEN = ("a path, a PIL image, a float tensor (N, 3, H, W) / (3, H, W) in [0, 1], a uint8 array (H, W, 3) / "
                "(N, H, W, 3), or a list of single images")
SLACK = 1e-4  # rounding in a caller's own arithmetic (x / 255 * 255 / 255) is not a range error


def as_pil_list(images) -> list:
    """What a scorer takes (IMAGES_TAKEN) -> RGB PIL images; [] for no images; else one ScorerError."""
    import numpy as np
    import torch
    from PIL import Image

    if isinstance(images, torch.Tensor):
        return tensor_images(images, "images")
    if isinstance(images, np.ndarray):
        return array_images(images, "images")
    if isinstance(images, (str, Path, Image.Image)):
        return [one_image(images, "images")]
    if images is None or not hasattr(images, "__iter__"):
        raise ScorerError(f"images: got {type(images).__name__}; the scorer takes {IMAGES_TAKEN}")
    return [one_image(item, f"images[{index}]") for index, item in enumerate(images)]


def one_image(item, where: str):
    """One item of a list: a path, a PIL image, a (3, H, W) tensor or an (H, W, 3) array."""
    import numpy as np
    import torch
    from PIL import Image

    from .images import ImageInputError, check_pixels, load_rgb, to_rgb

    try:
        if isinstance(item, Image.Image):
            check_pixels(item.width, item.height, float("inf"))  # a 0 x 0 picture has nothing to score
            return to_rgb(item)  # as its file would be read: alpha over white, 16-bit grey scaled
        if isinstance(item, (str, Path)):
            return load_rgb(str(item))
    except ImageInputError as error:
        raise ScorerError(f"{where}: {error}") from None
    if isinstance(item, torch.Tensor) and item.dim() == 3:
        return tensor_images(item, where)[0]
    if isinstance(item, np.ndarray) and item.ndim == 3:
        return array_images(item, where)[0]
    shape = f" of shape {tuple(item.shape)}" if hasattr(item, "shape") else ""
    raise ScorerError(f"{where}: got {type(item).__name__}{shape}; a list holds single images: a path, a PIL "
                      "image, a float tensor (3, H, W) in [0, 1] or a uint8 array (H, W, 3)")


def tensor_images(images, where: str) -> list:
    """A float tensor (N, 3, H, W) / (3, H, W) of values in [0, 1] -> PIL images; anything else is refused, not
    clamped (NaN would score as black, 0..255 values as white)."""
    import torch
    from PIL import Image

    batch = images[None] if images.dim() == 3 else images
    got = f"got {tuple(images.shape)} {images.dtype}"
    if batch.dim() != 4 or batch.shape[1] != 3 or not torch.is_floating_point(batch):
        hint = " (uint8? use .float() / 255)" if images.dtype == torch.uint8 else \
            " (channels last? use .permute(0, 3, 1, 2))" if batch.dim() == 4 and batch.shape[-1] == 3 else ""
        raise ScorerError(f"{where}: a tensor of images must be float (N, 3, H, W) or (3, H, W) in [0, 1], "
                          f"{got}{hint}")
    if batch.shape[2] < 1 or batch.shape[3] < 1:
        raise ScorerError(f"{where}: a tensor of images needs at least 1 pixel of height and width, {got}")
    if batch.shape[0] == 0:
        return []
    values = batch.detach()
    if not bool(torch.isfinite(values).all()):
        what = "NaN" if bool(torch.isnan(values).any()) else "infinite values"
        raise ScorerError(f"{where}: a float tensor must hold finite values in [0, 1]; this one holds {what}")
    low, high = float(values.min()), float(values.max())
    if high > 1 + SLACK:
        hint = "divide by 255" if high > 2 else "clamp it with .clamp(0, 1) (resampling overshoots)"
        raise ScorerError(f"{where}: a float tensor must hold values in [0, 1]; this one holds values up to "
                          f"{high:g} — {hint}")
    if low < -SLACK:
        raise ScorerError(f"{where}: a float tensor must hold values in [0, 1]; this one holds values down to "
                          f"{low:g} — undo the normalisation (x * std + mean; (x + 1) / 2 for [-1, 1])")
    pixels = (values.float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    return [Image.fromarray(array.numpy()) for array in pixels]


def array_images(images, where: str) -> list:
    """A uint8 NumPy array (H, W, 3) / (N, H, W, 3), as np.asarray(pil_image) gives -> PIL images."""
    import numpy as np
    from PIL import Image

    got = f"got {images.shape} {images.dtype}"
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or images.shape[-1] != 3:
        hint = " (floats in [0, 1]? pass torch.from_numpy(x).permute(0, 3, 1, 2), a (N, 3, H, W) tensor)" \
            if np.issubdtype(images.dtype, np.floating) else ""
        raise ScorerError(f"{where}: a NumPy array of images must be uint8 (H, W, 3) or (N, H, W, 3), as "
                          f"np.asarray(pil_image) gives; {got}{hint}")
    batch = images[None] if images.ndim == 3 else images
    if batch.shape[1] < 1 or batch.shape[2] < 1:
        raise ScorerError(f"{where}: an array of images needs at least 1 pixel of height and width, {got}")
    return [Image.fromarray(np.ascontiguousarray(frame)) for frame in batch]


def checked_batch_size(value) -> int:
    """A whole number >= 1 (NumPy's integers too); True is an int to Python, but no batch size."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ScorerError(f"batch_size {value!r}: give a whole number of images, 1 or more")
    return int(value)


def checked_options(spec, device, dtype, rating_prompt) -> tuple[str, str | None]:
    """create_scorer's arguments refused before any weights load; (spec, dtype name)."""
    import torch

    from .models.types import DEVICES, DTYPES, RATING_PROMPTS

    if not isinstance(spec, (str, Path)) or not str(spec).strip():
        raise ScorerError(f"model {spec!r}: give a scorer name (list_scorers()), a folder, a hub id in the cache "
                          "or tiny:FAMILY")
    if device is not None and (not isinstance(device, str) or device.split(":")[0] not in DEVICES):
        raise ScorerError(f"device {device!r}: choose cuda, cuda:N, cpu or mps (or None: cuda when available)")
    name = str(dtype).removeprefix("torch.") if isinstance(dtype, torch.dtype) else dtype
    if name is not None and name not in DTYPES:
        raise ScorerError(f"dtype {dtype!r}: choose {', '.join(DTYPES)} (or None: float32 on the CPU, bfloat16 "
                          "on a GPU)")
    if rating_prompt not in RATING_PROMPTS:
        raise ScorerError(f"rating_prompt {rating_prompt!r}: choose {', '.join(RATING_PROMPTS)}")
    return str(spec), name


def create_scorer(spec: str, kind: str = "p_good", device: str | None = None, dtype: str | None = None,
                  batch_size: int = 8, rating_prompt: str = "auto") -> Scorer:
    """A scorer on a local model: a scorer name (`list_scorers()`), a folder, a hub id in the cache or tiny:FAMILY.
    `kind`: p_good (0..1) or qalign (1..5).  fp32 on the CPU unless asked otherwise; fp16/bf16 there are refused.
    Every argument is checked here, before the weights load: a bad one raises one ScorerError."""
    from .models.loading import choose_device_dtype, load_model
    from .models.rating import OWL2_PROMPTS
    from .models.types import LoadOptions

    if not isinstance(kind, str) or kind not in SCORE_KINDS:  # a list would not even hash
        raise ScorerError(f"kind {kind!r}: choose {' or '.join(SCORE_KINDS)}")
    spec, dtype = checked_options(spec, device, dtype, rating_prompt)
    batch_size = checked_batch_size(batch_size)
    options = LoadOptions(device=device, dtype=dtype, rating_prompt=rating_prompt)
    chosen_device, chosen_dtype = choose_device_dtype(options)
    if str(chosen_device).startswith("cpu") and str(chosen_dtype) != "torch.float32":
        raise ScorerError(f"dtype {dtype}: on the CPU the scorer runs in float32 (half precision there is slow and "
                          "gives wrong scores); use a GPU for bfloat16 / float16")
    model = load_model(resolve_name(spec), options)
    if getattr(model, "kind", "local") != "local":
        raise ScorerError(f"{spec}: the scorer takes local weights; an endpoint's scores are neither deterministic "
                          "nor batch-invariant (rate it with `qinstruct rate` instead)")
    if rating_prompt in OWL2_PROMPTS and model.family.rating_prompt not in OWL2_PROMPTS:
        # the prompt's <|image|> is mPLUG-Owl2's placeholder: refused now, not at the first image
        raise ScorerError(f"rating_prompt {rating_prompt!r} is written for mPLUG-Owl2 checkpoints and {spec} is a "
                          f"{model.family.name} model; use 'q-bench' or 'auto'")
    return Scorer(model, SCORE_KINDS[kind], batch_size)
