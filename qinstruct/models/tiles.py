"""Native-resolution tiles for the micro demo models.

A micro model sees 64 × 64 pixels.  Shrinking a photograph to that size throws away the pixel-scale evidence of
low-level quality (a radius-4 blur of a 1024-px photograph is a quarter of a pixel in the thumbnail), so on an
image larger than its input a micro model looks at 64-px tiles cut at the image's own resolution, as patch-based
quality models do: a rating is the mean over a 3 × 3 grid of tiles (with their spread), an answer is about the
centre tile.  Images at most 64 px on a side (the demo world's, the Corrupt tab's cells at the model's input size)
are seen whole, as before.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .types import LEVELS, Rating

TILE, GRID = 64, 3


def tiled(loaded) -> bool:
    """Whether the model is a micro demo model (its vision tower takes 64-px images)."""
    from .micro import TOWER_TYPE

    vision = getattr(getattr(getattr(loaded, "model", None), "config", None), "vision_config", None)
    return getattr(vision, "model_type", None) == TOWER_TYPE


def _seen_whole(image: Image.Image, size: int) -> bool:
    """Not larger than one tile on both sides, or narrower than a tile on one: the image is seen whole."""
    width, height = image.size
    return min(width, height) < size or (width <= size and height <= size)


def native_tiles(image: Image.Image, size: int = TILE, grid: int = GRID) -> list[Image.Image]:
    """grid × grid tiles of size × size pixels at the image's own resolution, evenly spread over it (they overlap
    on small images); [] when the image is not larger than one tile on both sides (it is seen whole)."""
    if _seen_whole(image, size):
        return []
    width, height = image.size
    xs = sorted({int(x) for x in np.linspace(0, width - size, grid).round()})
    ys = sorted({int(y) for y in np.linspace(0, height - size, grid).round()})
    return [image.crop((x, y, x + size, y + size)) for y in ys for x in xs]


def centre_tile(image: Image.Image, size: int = TILE) -> Image.Image:
    """The tile an answer is about: the image's centre at its own resolution (the image itself when small)."""
    if _seen_whole(image, size):
        return image
    width, height = image.size
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def mean_rating(ratings: list[Rating]) -> Rating:
    """One rating from a tile's each: the means, and P(good)'s spread (standard deviation) over the tiles."""
    if len(ratings) == 1:
        return ratings[0]
    margins = [r.good_minus_poor for r in ratings]
    return Rating(float(np.mean([r.p_good for r in ratings])),
                  {level: float(np.mean([r.level_probs[level] for r in ratings])) for level in LEVELS},
                  float(np.mean([r.score for r in ratings])), any(r.approximate for r in ratings),
                  None if any(m is None for m in margins) else float(np.mean(margins)),
                  spread=float(np.std([r.p_good for r in ratings])), tiles=len(ratings), prompt=ratings[0].prompt)
