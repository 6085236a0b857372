"""Demo photographs: scikit-image's bundled images, read at run time (nothing is copied into the project)."""
from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image

# name -> loader returning an RGB uint8 array; only images bundled in the scikit-image wheel (no download)
_LOADERS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": lambda: _data().astronaut(),
    "coffee": lambda: _data().coffee(),
    "chelsea": lambda: _data().chelsea(),
    "rocket": lambda: _data().rocket(),
    "motorcycle": lambda: _data().stereo_motorcycle()[0],
    "camera": lambda: np.repeat(_data().camera()[..., None], 3, axis=2),
    "hubble": lambda: _data().hubble_deep_field(),
    "immunohistochemistry": lambda: _data().immunohistochemistry(),
}


def _data():
    import skimage.data

    return skimage.data


def list_demo_photos() -> list[str]:
    return list(_LOADERS)


@functools.lru_cache(maxsize=32)
def _demo_photo_cached(name: str, max_side: int) -> Image.Image:
    image = Image.fromarray(_LOADERS[name]())
    scale = max_side / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    return image


def demo_photo(name: str, max_side: int = 512) -> Image.Image:
    """A bundled photograph, downscaled so that its longest side is at most `max_side`."""
    if name not in _LOADERS:
        raise KeyError(f"unknown demo photo {name!r}; known: {', '.join(_LOADERS)}")
    return _demo_photo_cached(name, max_side).copy()
