"""Blur corruptions.  Severity tables are the reference's (imagecorruptions)."""
from __future__ import annotations

import cv2
import numpy as np

from ._filters import disk_kernel, gaussian_nearest, zoom_center
from ._filters import motion_blur as _motion_blur
from .registry import register


@register("defocus_blur", group="blur", common=True, label="defocus blur")
def defocus_blur(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    radius, alias_blur = [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)][severity - 1]
    # One filter2D call over the three channels does what the reference does channel by channel.
    blurred = cv2.filter2D(x.astype(np.float32) / 255.0, -1, disk_kernel(radius, alias_blur))
    return np.clip(blurred, 0, 1) * 255


def glass_shuffle(x: np.ndarray, max_delta: int, iterations: int, rs: np.random.RandomState) -> np.ndarray:
    """The reference's numba loop, vectorised.

    The reference scans rows and columns backwards and, for each pixel p, executes
    ``x[p], x[src] = x[src], x[p]`` with src = p + (dy, dx) drawn from the same generator.  Because the
    right-hand side holds *views*, that statement copies x[src] into x[p] and leaves x[src] as it was
    (tests/corrupt check this against the reference).  So within one pass each pixel is written once, with
    the value its source had at that moment: the source's new value if the scan already passed it, else its
    original value.  Following those links is pointer jumping: log2(longest chain) gathers, no Python loop.
    """
    height, width = x.shape[:2]
    rows = np.arange(height - max_delta, max_delta, -1, dtype=np.int32)  # scan order of the reference
    cols = np.arange(width - max_delta, max_delta, -1, dtype=np.int32)
    if rows.size == 0 or cols.size == 0:
        return x
    grid_r, grid_c = np.meshgrid(rows, cols, indexing="ij")
    scanned = (grid_r * width + grid_c).ravel()
    # Pack each RGB pixel into one uint32 so that the gathers below move 4-byte words, not 3-byte rows.
    packed = np.zeros((height * width, 4), dtype=np.uint8)
    packed[:, : x.shape[2]] = x.reshape(height * width, -1)
    flat = packed.view(np.uint32).ravel()
    for _ in range(iterations):
        draws = rs.randint(-max_delta, max_delta, size=(rows.size, cols.size, 2)).astype(np.int32)
        dx, dy = draws[..., 0], draws[..., 1]
        src_r, src_c = grid_r + dy, grid_c + dx
        in_scan = (src_r >= rows[-1]) & (src_r <= rows[0]) & (src_c >= cols[-1]) & (src_c <= cols[0])
        written_before = (in_scan & ((dy > 0) | ((dy == 0) & (dx > 0)))).ravel()
        src = (src_r * width + src_c).ravel()
        # link >= 0: "whatever pixel `link` ends with"; link < 0: "the original value of pixel -link-1".
        links = -np.arange(1, height * width + 1, dtype=np.int32)
        links[scanned] = np.where(written_before, src, -src - 1)
        pending = scanned[written_before]
        while pending.size:
            # Jumping in place is safe: every value read is a pointer further along the same chain.
            links[pending] = links[links[pending]]
            pending = pending[links[pending] >= 0]
        flat = flat[-links - 1]
    return flat.view(np.uint8).reshape(height, width, 4)[..., : x.shape[2]]


@register("glass_blur", group="blur", common=True, label="glass blur")
def glass_blur(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    sigma, max_delta, iterations = [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)][severity - 1]
    smoothed = np.uint8(gaussian_nearest(x / 255.0, sigma) * 255)
    shuffled = glass_shuffle(smoothed, max_delta, iterations, np.random.RandomState(seed))
    return np.clip(gaussian_nearest(shuffled / 255.0, sigma), 0, 1) * 255


@register("motion_blur", group="blur", common=True, label="motion blur")
def motion_blur(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    radius, sigma = [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)][severity - 1]
    angle = np.random.RandomState(seed).uniform(-45, 45)
    return np.clip(_motion_blur(x, radius, sigma, angle), 0, 255)


_ZOOM_FACTORS = [
    np.arange(1, 1.11, 0.01),
    np.arange(1, 1.16, 0.01),
    np.arange(1, 1.21, 0.02),
    np.arange(1, 1.26, 0.02),
    np.arange(1, 1.31, 0.03),
]


@register("zoom_blur", group="blur", common=True, label="zoom blur")
def zoom_blur(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    factors = _ZOOM_FACTORS[severity - 1]
    unit = x.astype(np.float32) / 255.0
    total = unit.copy()
    for factor in factors:
        total += zoom_center(unit, factor, unit.shape[:2])
    total /= len(factors) + 1
    return np.clip(total, 0, 1) * 255


@register("gaussian_blur", group="blur", common=False, label="Gaussian blur")
def gaussian_blur(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    sigma = [1, 2, 3, 4, 6][severity - 1]
    return np.clip(gaussian_nearest(x / 255.0, sigma), 0, 1) * 255
