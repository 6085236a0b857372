"""Noise corruptions.  Severity tables are the reference's (Hendrycks & Dietterich, imagecorruptions)."""
from __future__ import annotations

import numpy as np

from .registry import register

# np.random.RandomState(seed) yields the same stream as the reference's global np.random after
# np.random.seed(seed): that is what makes "same image under the same random draws" testable.


@register("gaussian_noise", group="noise", common=True, label="Gaussian noise")
def gaussian_noise(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    scale = [0.08, 0.12, 0.18, 0.26, 0.38][severity - 1]
    noise = np.random.RandomState(seed).normal(size=x.shape, scale=scale)
    noise += x / 255.0
    return np.clip(noise, 0, 1, out=noise) * 255


@register("shot_noise", group="noise", common=True, label="shot (Poisson) noise")
def shot_noise(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    photons = [60, 25, 12, 5, 3][severity - 1]
    counts = np.random.RandomState(seed).poisson(x / 255.0 * photons) / float(photons)
    return np.clip(counts, 0, 1, out=counts) * 255


@register("impulse_noise", group="noise", common=True, label="impulse (salt-and-pepper) noise")
def impulse_noise(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    # skimage.util.random_noise(mode="s&p", amount, salt_vs_pepper=0.5) with a Generator seeded like the
    # reference's `seed=` argument: one uniform draw picks the flipped pixels, a second picks salt or pepper.
    amount = [0.03, 0.06, 0.09, 0.17, 0.27][severity - 1]
    rng = np.random.default_rng(seed)
    flipped = rng.random(x.shape) <= amount
    salt = rng.random(x.shape) <= 0.5
    out = x.copy()
    out[flipped & salt] = 255
    out[flipped & ~salt] = 0
    return out


@register("speckle_noise", group="noise", common=False, label="speckle noise")
def speckle_noise(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    scale = [0.15, 0.2, 0.35, 0.45, 0.6][severity - 1]
    unit = x / 255.0
    noisy = unit + unit * np.random.RandomState(seed).normal(size=x.shape, scale=scale)
    return np.clip(noisy, 0, 1, out=noisy) * 255
