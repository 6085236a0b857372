"""The self-check of a local model's scores (`qinstruct rate --self-check`, `Scorer.self_check`): scored on the
demo photographs (or given images) as the model sees them, pristine and corrupted with defocus blur and Gaussian
noise at severities 1 / 3 / 5, the mean score must fall with severity -- which catches a broken load before anyone
trusts the scores."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from .types import Rating

SELF_CHECK_CORRUPTIONS = ("defocus_blur", "gaussian_noise")
SELF_CHECK_SEVERITIES = (1, 3, 5)
SELF_CHECK_PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")


class Score(NamedTuple):
    """A score read from a rating: its name, its range, whether lower is better, how it is read."""
    name: str
    score_range: tuple[float, float]
    lower_better: bool
    value: Callable[[Rating], float]


SCORE_OF = {"p_good": Score("p_good", (0.0, 1.0), False, lambda rating: rating.p_good),
            "qalign": Score("qalign", (1.0, 5.0), False, lambda rating: rating.score5)}


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


def self_check(model, score: Score, pictures: list | None, seed: int, batch_size: int) -> SelfCheck:
    """The mean `score` of `pictures` (None: the demo photographs) at each corruption and severity, and whether it
    falls (rank correlation ≤ -0.8, and 10 % of the range lower at severity 5 than pristine)."""
    from ..photos import demo_photo
    from .seen import corrupted_variants

    if pictures is None:
        pictures = [demo_photo(name, 256) for name in SELF_CHECK_PHOTOS]
    cells = [(name, severity) for name in SELF_CHECK_CORRUPTIONS for severity in SELF_CHECK_SEVERITIES]
    variants = [corrupted_variants(model, picture, cells, seed) for picture in pictures]
    ratings = model.rate([image for group in variants for _, _, image in group], batch_size=batch_size)
    scores = [score.value(rating) for rating in ratings]
    per_image = len(cells) + 1
    mean = [sum(scores[i * per_image + j] for i in range(len(pictures))) / len(pictures) for j in range(per_image)]
    width = score.score_range[1] - score.score_range[0]
    curves = {name: [mean[0]] + [mean[1 + k * len(SELF_CHECK_SEVERITIES) + s]
                                 for s in range(len(SELF_CHECK_SEVERITIES))]
              for k, name in enumerate(SELF_CHECK_CORRUPTIONS)}
    passed = all(falls(values, score.lower_better, 0.10 * width) for values in curves.values())
    return SelfCheck(passed, score.name, curves)
