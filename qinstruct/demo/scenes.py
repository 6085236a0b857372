"""Pristine images whose content is known: procedural scenes and crops of scikit-image's photographs.

Every sample comes with a content description the feedback writer and the question makers use:
  scenes: {"kind": "scene", "background": ..., "objects": [{"shape", "colour", "position"}, ...]}
  photos: {"kind": "photo", "photo": name, "subject": "a cat", "category": "natural" | "texture" | ...}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "diamond")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 210, 40),
    "purple": (150, 60, 190),
    "orange": (240, 140, 30),
}
BACKGROUNDS = ("plain", "gradient", "clutter")
# 3 x 3 layout; names read naturally in "the red circle {at the top left}"
POSITIONS = {
    (0, 0): "top left", (0, 1): "top", (0, 2): "top right",
    (1, 0): "left", (1, 1): "centre", (1, 2): "right",
    (2, 0): "bottom left", (2, 1): "bottom", (2, 2): "bottom right",
}

# photographs bundled with scikit-image: loader name -> (subject phrase, category); the held-out ones are
# never used for training images (evaluation images only), as in the micro-world study.
PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut": ("an astronaut", "natural"),
    "chelsea": ("a cat", "natural"),
    "coffee": ("a cup of coffee", "natural"),
    "rocket": ("a rocket", "natural"),
    "camera": ("a man with a camera", "natural"),
    "coins": ("coins", "texture"),
    "brick": ("a brick wall", "texture"),
    "grass": ("grass", "texture"),
    "gravel": ("gravel", "texture"),
    "moon": ("the lunar surface", "texture"),
    "text": ("printed text", "texture"),
    "immunohistochemistry": ("stained tissue", "microscopy"),
    "retina": ("a retina", "microscopy"),
}
HELD_OUT_PHOTOS: dict[str, tuple[str, str]] = {
    "stereo_motorcycle": ("a motorcycle", "natural"),
    "clock": ("a clock", "natural"),
    "cell": ("a cell", "microscopy"),
}


@dataclass
class Sample:
    image: Image.Image  # RGB, size x size
    content: dict[str, Any]

    @property
    def source(self) -> str:
        """The dataset a sample belongs to, as Table 1 groups them."""
        if self.content["kind"] == "scene":
            return "scenes"
        return f"photos-{self.content['category']}"


def _photo_array(name: str) -> np.ndarray:
    import skimage.data

    array = getattr(skimage.data, name)()
    if isinstance(array, tuple):  # stereo_motorcycle returns (left, right, disparity)
        array = array[0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.ascontiguousarray(array[..., :3])


_PHOTO_CACHE: dict[str, np.ndarray] = {}


def photo_array(name: str) -> np.ndarray:
    if name not in _PHOTO_CACHE:
        _PHOTO_CACHE[name] = _photo_array(name)
    return _PHOTO_CACHE[name]


FLAT_STD = 12  # a crop this flat shows no distortion and no content: drawn again
NATIVE_SCALE = (1.0, 1.5)  # a native crop's window, in multiples of the image side
# a large photograph's own tiles include near-flat ones (sky, a wall: std 3-6 in ../shared/data/images), and a
# model that never saw such a clean tile reads one as degraded (README, real photographs): native crops go flatter
NATIVE_FLAT_STD = 6


def photo_crop(rng: np.random.Generator, size: int, held_out: bool = False, native_share: float = 0.0) -> Sample:
    """A random square crop, maybe flipped, resized to size; flat crops rejected.  Most are 25-100 % of the
    photograph's short side (crisp at the pixel level once shrunk); `native_share` of them are windows of 1-1.5
    times size, as soft as a large photograph's own pixels (what a micro model sees in its native tiles)."""
    native = bool(native_share) and rng.random() < native_share  # no draw when off: older worlds stay the same
    catalogue = HELD_OUT_PHOTOS if held_out else PHOTOS
    names = sorted(catalogue)
    for _ in range(20):
        name = names[int(rng.integers(len(names)))]
        array = photo_array(name)
        height, width = array.shape[:2]
        side = int(size * rng.uniform(*NATIVE_SCALE)) if native else int(min(height, width) * rng.uniform(0.25, 1.0))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crop = array[top:top + side, left:left + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        image = Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.LANCZOS)
        if np.asarray(image, dtype=np.float32).std() >= (NATIVE_FLAT_STD if native else FLAT_STD):
            break
    subject, category = catalogue[name]
    return Sample(image, {"kind": "photo", "photo": name, "subject": subject, "category": category})


def _background(rng: np.random.Generator, kind: str, size: int) -> Image.Image:
    base = rng.integers(150, 246, size=3)
    if kind == "plain":
        return Image.new("RGB", (size, size), tuple(int(c) for c in base))
    if kind == "gradient":
        other = rng.integers(90, 246, size=3)
        ramp = np.linspace(0, 1, size)[:, None, None]
        array = base * (1 - ramp) + other * ramp
        return Image.fromarray(np.repeat(array, size, axis=1).astype(np.uint8))
    # clutter: soft blobs of muted colours, enough texture for blur and noise to be visible
    image = Image.new("RGB", (size, size), tuple(int(c) for c in base))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(10, 20))):
        x, y = rng.integers(-size // 8, size, size=2)
        r = int(rng.integers(size // 16, size // 5))
        colour = tuple(int(c) for c in rng.integers(110, 230, size=3))
        draw.ellipse([int(x), int(y), int(x) + r, int(y) + r], fill=colour)
    return image


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float], colour) -> None:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if shape == "circle":
        draw.ellipse(box, fill=colour, outline=(20, 20, 20), width=2)
    elif shape == "square":
        draw.rectangle(box, fill=colour, outline=(20, 20, 20), width=2)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=colour, outline=(20, 20, 20), width=2)
    else:  # diamond
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=colour, outline=(20, 20, 20), width=2)


def procedural_scene(rng: np.random.Generator, size: int) -> Sample:
    """1-3 shapes in distinct cells of a 3 x 3 layout on a plain, gradient or cluttered background.
    Drawn at 4x and downsampled, so edges are anti-aliased like a photograph's."""
    scale = 4
    big = size * scale
    background = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    image = _background(rng, background, big)
    draw = ImageDraw.Draw(image)
    cells = list(POSITIONS)
    count = int(rng.choice([1, 1, 2, 2, 3]))
    chosen = [cells[i] for i in rng.choice(len(cells), size=count, replace=False)]
    objects = []
    cell = big / 3
    for row, col in chosen:
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        colour = sorted(COLOURS)[int(rng.integers(len(COLOURS)))]
        margin = cell * rng.uniform(0.08, 0.2)
        box = (col * cell + margin, row * cell + margin, (col + 1) * cell - margin, (row + 1) * cell - margin)
        _draw_shape(draw, shape, box, COLOURS[colour])
        objects.append({"shape": shape, "colour": colour, "position": POSITIONS[(row, col)]})
    image = image.resize((size, size), Image.LANCZOS)
    return Sample(image, {"kind": "scene", "background": background, "objects": objects})


def make_sample(rng: np.random.Generator, size: int, held_out: bool = False, scene_share: float = 0.5,
                native_share: float = 0.0) -> Sample:
    if rng.random() < scene_share:
        return procedural_scene(rng, size)
    return photo_crop(rng, size, held_out=held_out, native_share=native_share)
