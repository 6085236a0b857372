"""The micro demo models on real photographs they never saw: by native-resolution tiles, the tuned model's P(good)
falls with each level of blur and of noise; asked about it, it says when there is mild noise; the baseline's
rating and answers do not move.  (Issue 20: through a 64-px thumbnail both stayed flat: 0.791 ->
0.777 under blur, 0.791 -> 0.792 under noise.)"""
import numpy as np
import pytest
from PIL import Image

from qinstruct.corrupt.api import corrupt
from qinstruct.images import load_rgb
from qinstruct.models.loading import load_model
from qinstruct.models.tiles import centre_tile, mean_rating, native_tiles

from ..conftest import ROOT, SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"reference data not found at {SHARED_DATA}")


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    return [load_rgb(path) for path in sorted((SHARED_DATA / "images").glob("*.jpg"))]


@pytest.fixture(scope="module")
def models():
    return {name: load_model(str(ROOT / "assets" / "models" / f"micro-{name}")) for name in ("baseline", "mix")}


def mean_p_good(model, images) -> float:
    return float(np.mean([rating.p_good for rating in model.rate(images)]))


def curve(model, photos, corruption, severities) -> list[float]:
    return [mean_p_good(model, photos)] + [mean_p_good(model, [corrupt(p, corruption, s) for p in photos])
                                          for s in severities]


def test_tiles_cover_the_image_at_its_own_resolution():
    image = Image.fromarray(np.arange(200 * 130 * 3, dtype=np.uint32).reshape(130, 200, 3).astype(np.uint8))
    tiles = native_tiles(image)
    assert len(tiles) == 9 and all(t.size == (64, 64) for t in tiles)
    assert np.array_equal(np.asarray(tiles[-1]), np.asarray(image)[66:130, 136:200])  # the far corner
    assert native_tiles(image.resize((64, 64))) == [] and native_tiles(image.resize((300, 40))) == []
    assert centre_tile(image).size == (64, 64) and centre_tile(image.resize((50, 50))).size == (50, 50)


def test_a_rating_is_the_mean_over_tiles_with_its_spread(models, photos):
    tuned = models["mix"]
    rating = tuned.rate(photos[:1])[0]
    each = tuned.rate(native_tiles(photos[0]))
    assert rating.tiles == 9 and rating.p_good == pytest.approx(np.mean([r.p_good for r in each]))
    assert rating.spread == pytest.approx(np.std([r.p_good for r in each])) and rating == mean_rating(each)
    assert "mean of 9 tiles" in rating.line() and rating.as_dict()["tiles"] == 9


def falls(values: list[float]) -> bool:
    return all(later < earlier for earlier, later in zip(values, values[1:]))


def test_on_real_photographs_the_tuned_model_sees_blur_and_noise_at_each_level(models, photos):
    """Pristine, then severities 1, 2, 3 and 5.  Before the world's knobs of issue 20 the tuned model rated mild
    noise *above* the pristine photographs (0.455 -> 0.801 at severity 1, 0.548 at 2): its world labelled mild
    noise as good as pristine, and a soft native tile read "fair" to it (qinstruct/demo/config.py)."""
    blur = curve(models["mix"], photos, "gaussian_blur", (1, 2, 3, 5))
    assert falls(blur), blur  # measured 0.525 0.441 0.399 0.389 0.382
    noise = curve(models["mix"], photos, "gaussian_noise", (1, 2, 3, 5))
    assert falls(noise), noise  # 0.525 0.511 0.275 0.107 0.022
    for corruption in ("gaussian_blur", "gaussian_noise"):
        flat = curve(models["baseline"], photos, corruption, (1, 3, 5))
        assert max(flat) - min(flat) < 0.01, flat  # the baseline never learned quality: it does not move


def yes_probability(model, question: str, image) -> float:
    """P("Yes") against "No" by the options' own tokens (Q-Bench's likelihood protocol), about the centre tile."""
    _, losses = model.option_losses(question, ["Yes", "No"], image)
    return float(1 / (1 + np.exp(losses[0] - losses[1])))


def test_on_real_photographs_the_tuned_model_says_when_there_is_mild_noise(models, photos):
    """Mild noise is seen, not taken for detail: asked about it, the tuned model answers No on each pristine
    photograph and Yes on each at severity 1 (its centre tile); the baseline's answers do not change."""
    question, noisy = "Is there noise in this image?", [corrupt(p, "gaussian_noise", 1) for p in photos]
    tuned, baseline = models["mix"], models["baseline"]
    assert [a.strip(" .") for a in tuned.answer_many([question] * 10, photos + noisy)] == ["No"] * 5 + ["Yes"] * 5
    for clean, mild in zip(photos, noisy):  # measured: tuned 0.04-0.10 -> 0.98-1.00; the baseline moves <= 0.10
        assert yes_probability(tuned, question, clean) < 0.2 < 0.8 < yes_probability(tuned, question, mild)
        assert abs(yes_probability(baseline, question, mild) - yes_probability(baseline, question, clean)) < 0.15
    answers = baseline.answer_many([question] * 10, photos + noisy)
    assert answers[:5] == answers[5:]

