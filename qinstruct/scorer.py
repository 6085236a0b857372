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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import UserError
from .models.types import Rating

SELF_CHECK_CORRUPTIONS = ("defocus_blur", "gaussian_noise")
SELF_CHECK_SEVERITIES = (1, 3, 5)
SELF_CHECK_PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")


class ScorerError(UserError, ValueError):
    """One line: why a scorer cannot be made or cannot score these inputs."""


@dataclass(frozen=True)
class ScoreKind:
    name: str
    score_range: tuple[float, float]
    lower_better: bool
    description: str
    value: Callable[[Rating], float] = field(repr=False)


KINDS = {
    "p_good": ScoreKind("p_good", (0.0, 1.0), False, "P(good): softmax of the next token's 'good' and 'poor' logits "
                        "after the rating prompt (Q-Bench A3)", lambda rating: rating.p_good),
    "qalign": ScoreKind("qalign", (1.0, 5.0), False, "Q-Align's score: the five levels' probabilities (excellent .. "
                        "bad) weighted 5 .. 1", lambda rating: rating.score5),
}


def list_scorers() -> list[str]:
    """Names `create_scorer` takes besides any model spec: the shipped demo models, and the known checkpoints
    (models/known.py) whose weights are in the local cache."""
    from .demo.shipped import ASSETS
    from .models.known import KNOWN, local_path

    shipped = sorted(p.name for p in ASSETS.iterdir() if (p / "config.json").is_file()) if ASSETS.is_dir() else []
    return shipped + [k.name for k in KNOWN if k.family and local_path(k)]


def resolve_name(name: str) -> str:
    """A scorer name (a shipped demo model, a known checkpoint) to a model spec; any other text is a spec."""
    from .demo.shipped import ASSETS
    from .models.known import KNOWN

    if (ASSETS / name / "config.json").is_file():
        return str(ASSETS / name)
    return next((k.hub_id for k in KNOWN if k.name == name), name)


@dataclass
class SelfCheck:
    passed: bool
    kind: str
    curves: dict[str, list[float]]  # corruption -> mean score at pristine, then each severity

    def line(self) -> str:
        verdict = "PASS: scores fall with corruption severity" if self.passed else \
            "FAIL: scores do not fall with corruption severity (a broken load, or a model that does not see it)"
        curves = "; ".join(f"{name} {values[0]:.3f} → " + " / ".join(f"{v:.3f}" for v in values[1:])
                           for name, values in self.curves.items())
        return f"self-check {verdict} ({self.kind}, severities {'/'.join(map(str, SELF_CHECK_SEVERITIES))}): {curves}"


def falls(values: list[float], lower_better: bool, margin: float) -> bool:
    """The scores' rank correlation with severity is at most -0.8 (one adjacent pair out of order at most, over
    pristine and three severities), and the strongest level is below the pristine by `margin`; the other way
    round for a lower-is-better score."""
    from scipy.stats import spearmanr

    signed = [-v for v in values] if lower_better else values
    rho = spearmanr(range(len(signed)), signed).statistic
    return bool(round(rho, 6) <= -0.8) and signed[-1] < signed[0] - margin


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
        """Scores of images: paths, PIL images, a list of them, or a float tensor (N, 3, H, W) / (3, H, W) with
        values in [0, 1]; a float64 tensor of N scores, in input order."""
        import torch

        ratings = self.model.rate(as_pil_list(images), batch_size=batch_size or self.batch_size)
        return torch.tensor([self.kind.value(rating) for rating in ratings], dtype=torch.float64)

    def self_check(self, images=None, seed: int = 0) -> SelfCheck:
        """Score each image as the model sees it and corrupted there (defocus blur, Gaussian noise at severities
        1 / 3 / 5): the mean score must fall with severity (rank correlation ≤ -0.8, and 10 % of the range lower
        at 5 than pristine)."""
        from .demo.photos import demo_photo
        from .models.jobs import corrupted_variants

        pictures = as_pil_list(images) if images is not None else [demo_photo(n, 256) for n in SELF_CHECK_PHOTOS]
        cells = [(name, severity) for name in SELF_CHECK_CORRUPTIONS for severity in SELF_CHECK_SEVERITIES]
        variants = [corrupted_variants(self.model, picture, cells, seed) for picture in pictures]
        scores = self([image for group in variants for _, _, image in group]).tolist()
        per_image = len(cells) + 1
        mean = [sum(scores[i * per_image + j] for i in range(len(pictures))) / len(pictures) for j in range(per_image)]
        width = self.score_range[1] - self.score_range[0]
        curves = {name: [mean[0]] + [mean[1 + k * len(SELF_CHECK_SEVERITIES) + s]
                                     for s in range(len(SELF_CHECK_SEVERITIES))]
                  for k, name in enumerate(SELF_CHECK_CORRUPTIONS)}
        passed = all(falls(values, self.lower_better, 0.10 * width) for values in curves.values())
        return SelfCheck(passed, self.kind.name, curves)


def as_pil_list(images) -> list:
    """Paths, PIL images, lists of them, or a float tensor in [0, 1] -> RGB PIL images."""
    import torch
    from PIL import Image

    from .images import ImageInputError, load_rgb

    if isinstance(images, torch.Tensor):
        batch = images[None] if images.dim() == 3 else images
        if batch.dim() != 4 or batch.shape[1] != 3 or not torch.is_floating_point(batch):
            raise ScorerError(f"a tensor of images must be float (N, 3, H, W) in [0, 1], got {tuple(images.shape)} "
                              f"{images.dtype}")
        pixels = (batch.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
        return [Image.fromarray(array.numpy()) for array in pixels]
    items = [images] if isinstance(images, (str, Path, Image.Image)) else list(images)
    out = []
    for item in items:
        if isinstance(item, Image.Image):
            out.append(item.convert("RGB"))
        else:
            try:
                out.append(load_rgb(str(item)))
            except ImageInputError as error:
                raise ScorerError(str(error)) from None
    if not out:
        raise ScorerError("no images to score")
    return out


def create_scorer(spec: str, kind: str = "p_good", device: str | None = None, dtype: str | None = None,
                  batch_size: int = 8, rating_prompt: str = "auto") -> Scorer:
    """A scorer on a local model: a scorer name (`list_scorers()`), a folder, a hub id in the cache or tiny:FAMILY.
    `kind`: p_good (0..1) or qalign (1..5).  fp32 on the CPU unless asked otherwise; fp16/bf16 there are refused."""
    from .models.loading import choose_device_dtype, load_model
    from .models.types import LoadOptions

    if kind not in KINDS:
        raise ScorerError(f"kind {kind!r}: choose {' or '.join(KINDS)}")
    options = LoadOptions(device=device, dtype=dtype, rating_prompt=rating_prompt)
    chosen_device, chosen_dtype = choose_device_dtype(options)
    if str(chosen_device).startswith("cpu") and str(chosen_dtype) != "torch.float32":
        raise ScorerError(f"dtype {dtype}: on the CPU the scorer runs in float32 (half precision there is slow and "
                          "gives wrong scores); use a GPU for bfloat16 / float16")
    model = load_model(resolve_name(spec), options)
    if getattr(model, "kind", "local") != "local":
        raise ScorerError(f"{spec}: the scorer takes local weights; an endpoint's scores are neither deterministic "
                          "nor batch-invariant (rate it with `qinstruct rate` instead)")
    return Scorer(model, KINDS[kind], batch_size)
