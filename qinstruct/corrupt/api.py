"""`corrupt()`: one image, one corruption, one severity, one seed -> the corrupted image, same kind as given."""
from __future__ import annotations

from typing import TypeVar

import numpy as np

from .images import ImageInputError, to_rgb8
from .registry import SEVERITIES, get_corruption

ImageLike = TypeVar("ImageLike")
MAX_SEED = 2**32 - 1


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, {MAX_SEED}], got {seed!r}")
    return int(seed)


def check_severity(severity: int) -> int:
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or severity not in SEVERITIES:
        raise ValueError(f"severity must be an integer in 1..5, got {severity!r}")
    return int(severity)


def corrupt_rgb8(rgb: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """Kernel call on RGB uint8 (H, W, 3); the output is truncated to uint8 exactly as the reference does."""
    out = get_corruption(name)(rgb, check_severity(severity), check_seed(seed))
    return out if out.dtype == np.uint8 else np.uint8(out)


def corrupt(image: ImageLike, name: str, severity: int, seed: int = 0) -> ImageLike:
    """Corrupt a Pillow image or an array (see qinstruct.corrupt.images for how each kind is converted).

    Deterministic for a seed and free of global state: the same (image, name, severity, seed) gives the same
    pixels in any thread or process, whatever else runs beside it.
    """
    rgb, restore = to_rgb8(image)
    return restore(corrupt_rgb8(rgb, name, severity, seed))


__all__ = ["ImageInputError", "check_seed", "check_severity", "corrupt", "corrupt_rgb8"]
