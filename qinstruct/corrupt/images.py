"""Reading images safely and mapping every image kind to the kernels' RGB uint8 and back.

How each input is converted (the kernels are defined on 8-bit RGB, as in the reference):

* Pillow images are first turned upright with their EXIF orientation (the output carries no orientation tag).
* RGB: as is.  RGBA / LA / PA / RGBa / La: colour corrupted, alpha kept untouched.
* L and 1: the grey plane is replicated to RGB, corrupted, and folded back to grey with ITU-R 601 luma
  (Pillow's own L conversion), so per-channel noise becomes grey noise; 1 comes back as L.
* P: expanded to RGB (RGBA when it has transparency) and returned so; re-quantising to a palette would add
  a distortion of its own.
* CMYK, YCbCr, HSV, LAB: converted to RGB, corrupted, converted back where Pillow can, else returned as RGB.
* I;16 (and I, F): 16-bit grey, corrupted at 8-bit precision (value / 257) and scaled back to 16 bits.
* NumPy arrays: uint8 (H, W), (H, W, 1), (H, W, 3), (H, W, 4 = RGBA); uint16 the same shapes, scaled by 257;
  float arrays must hold values in [0, 1].  The output has the input's shape and dtype.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..images import DEFAULT_MAX_MEGAPIXELS, ImageInputError, check_pixels, read_image

MIN_SIDE = 32  # the kernels' smallest side (blur kernels and frost crops need room)
_ALPHA_MODES = {"RGBA": "RGB", "RGBa": "RGB", "LA": "L", "La": "L", "PA": "RGB"}
_HIGH_DEPTH_GREY = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


def check_size(width: int, height: int, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> None:
    check_pixels(width, height, max_megapixels, MIN_SIDE)


def load_image(path: str | Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> Image.Image:
    """An image file the kernels can take (at least 32 px a side), or ImageInputError."""
    return read_image(path, max_megapixels, MIN_SIDE)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma as Pillow computes it for convert('L'), on float RGB in [0, 255]."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., np.newaxis], 3, axis=2)


Restore = Callable[[np.ndarray], object]


def _from_pil(image: Image.Image) -> tuple[np.ndarray, Restore]:
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode == "RGB":
        return np.asarray(image), lambda rgb: Image.fromarray(rgb)
    if mode in _ALPHA_MODES:
        colour_mode = _ALPHA_MODES[mode]
        out_mode = "LA" if colour_mode == "L" else "RGBA"
        alpha = image.getchannel("A")
        colour = np.asarray(image.convert(colour_mode))
        rgb = colour if colour_mode == "RGB" else _grey_to_rgb(colour)

        def restore_alpha(out: np.ndarray) -> Image.Image:
            base = Image.fromarray(out) if colour_mode == "RGB" else Image.fromarray(out).convert("L")
            return Image.merge(out_mode, (*base.split(), alpha))

        return rgb, restore_alpha
    if mode in ("L", "1"):
        return _grey_to_rgb(np.asarray(image.convert("L"))), lambda rgb: Image.fromarray(rgb).convert("L")
    if mode in _HIGH_DEPTH_GREY:
        original = np.asarray(image)
        values = original.astype(np.float64)
        unit_float = mode == "F" and values.max(initial=0) <= 1.0
        grey8 = np.clip(np.round(values * (255 if unit_float else 1 / 257)), 0, 255).astype(np.uint8)

        def restore_deep(rgb: np.ndarray) -> Image.Image:
            grey16 = np.clip(np.round(_luma(rgb.astype(np.float64)) * 257), 0, 65535)
            # The original dtype (uint16 little/big endian, int32, float32) gives Pillow back the same mode.
            return Image.fromarray((grey16 / 65535 if unit_float else grey16).astype(original.dtype))

        return _grey_to_rgb(grey8), restore_deep

    def restore_mode(rgb: np.ndarray) -> Image.Image:
        out = Image.fromarray(rgb)
        try:
            return out.convert(mode)
        except ValueError:  # Pillow cannot convert RGB back to every mode (LAB, say): keep RGB
            return out

    return np.asarray(image.convert("RGB")), restore_mode


def _from_array(array: np.ndarray) -> tuple[np.ndarray, Restore]:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageInputError(f"array of shape {array.shape}: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    dtype = array.dtype
    if dtype == np.uint8:
        to8, back = (lambda a: a), (lambda a: a)
    elif dtype == np.uint16:
        to8 = lambda a: np.round(a / 257.0).astype(np.uint8)  # noqa: E731
        back = lambda a: (a.astype(np.uint16) * 257)  # noqa: E731
    elif np.issubdtype(dtype, np.floating):
        if array.size and (np.nanmin(array) < 0 or np.nanmax(array) > 1):
            raise ImageInputError("float arrays must hold values in [0, 1]")
        to8 = lambda a: np.round(np.nan_to_num(a) * 255).astype(np.uint8)  # noqa: E731
        back = lambda a: (a / 255.0).astype(dtype)  # noqa: E731
    else:
        raise ImageInputError(f"unsupported array dtype {dtype}; use uint8, uint16 or float in [0, 1]")
    shape = array.shape
    channels = 1 if array.ndim == 2 else shape[2]
    as8 = to8(array)
    if channels == 1:
        grey = as8.reshape(shape[:2])
        return _grey_to_rgb(grey), lambda rgb: back(
            np.clip(np.round(_luma(rgb.astype(np.float64))), 0, 255).astype(np.uint8).reshape(shape)
        )
    if channels == 4:
        alpha = array[..., 3:]
        return np.ascontiguousarray(as8[..., :3]), lambda rgb: np.concatenate([back(rgb), alpha], axis=2)
    return np.ascontiguousarray(as8), back


def to_rgb8(image: object) -> tuple[np.ndarray, Restore]:
    """Return the kernels' input (RGB uint8, H x W x 3) and a function mapping a kernel output back to the
    input's kind (Pillow image of the same mode family, or array of the same shape and dtype)."""
    if isinstance(image, Image.Image):
        rgb, restore = _from_pil(image)
    elif isinstance(image, np.ndarray):
        rgb, restore = _from_array(image)
    else:
        raise ImageInputError(f"expected a Pillow image or a NumPy array, got {type(image).__name__}")
    check_size(rgb.shape[1], rgb.shape[0], max_megapixels=math.inf)
    return rgb, restore
