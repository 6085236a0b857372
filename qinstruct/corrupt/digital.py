"""Digital corruptions (contrast, elastic, pixelate, JPEG, saturate).  Severity tables are the reference's."""
from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from ._filters import channel_max, channel_min
from .registry import register


@register("contrast", group="digital", common=True, label="low contrast")
def contrast(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    factor = np.float32([0.4, 0.3, 0.2, 0.1, 0.05][severity - 1])
    unit = x.astype(np.float32) / 255.0
    means = unit.mean(axis=(0, 1), keepdims=True)
    return np.clip((unit - means) * factor + means, 0, 1) * 255


@register("elastic_transform", group="digital", common=True, label="elastic distortion")
def elastic_transform(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    """Smooth random displacement field, as the reference; sampling with cv2.remap (bilinear, reflected
    borders) replaces scipy's map_coordinates over an (H*W*3)-point index list."""
    alpha = [250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12][severity - 1]
    height, width = x.shape[:2]
    sigma = np.array([height, width]) * 0.01
    max_shift = height * 0.005
    rs = np.random.RandomState(seed)
    fields = []
    for _ in range(2):  # dx first, then dy: the reference's draw order
        noise = rs.uniform(-max_shift, max_shift, size=(height, width))
        # scipy's gaussian_filter(mode="reflect", truncate=3) is OpenCV's reflected border with radius 3 sigma
        radii = [int(3 * s + 0.5) for s in sigma]
        smooth = cv2.GaussianBlur(
            noise, (2 * radii[1] + 1, 2 * radii[0] + 1), sigmaX=sigma[1], sigmaY=sigma[0], borderType=cv2.BORDER_REFLECT
        )
        fields.append((smooth * alpha).astype(np.float32))
    dx, dy = fields
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    unit = x.astype(np.float32) / 255.0
    warped = cv2.remap(unit, grid_x + dx, grid_y + dy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.clip(warped, 0, 1) * 255


@register("pixelate", group="digital", common=True, label="pixelation")
def pixelate(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    factor = [0.6, 0.5, 0.4, 0.3, 0.25][severity - 1]
    height, width = x.shape[:2]
    small = Image.fromarray(x).resize((int(width * factor), int(height * factor)), Image.BOX)
    return np.asarray(small.resize((width, height), Image.NEAREST))


@register("jpeg_compression", group="digital", common=True, label="JPEG compression artifacts")
def jpeg_compression(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    quality = [25, 18, 15, 10, 7][severity - 1]
    buffer = io.BytesIO()
    Image.fromarray(x).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


@register("saturate", group="digital", common=False, label="over-saturation")
def saturate(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    """Scale S in HSV (S' = clip(S*a + b)), as the reference does through skimage.  With hue and V fixed,
    every channel keeps its distance from V in proportion to S, so out = V - (V - rgb) * S'/S.  Grey pixels
    (S = 0) get hue 0 in skimage, which turns them into (V, V(1-S'), V(1-S'))."""
    gain, offset = np.float32([(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)][severity - 1])
    unit = x.astype(np.float32) / 255.0
    value = channel_max(unit)
    spread = value - channel_min(unit)
    saturation = np.divide(spread, value, out=np.zeros_like(value), where=value > 0)
    new_saturation = np.clip(saturation * gain + offset, 0, 1)
    scale = np.divide(new_saturation * value, spread, out=np.zeros_like(value), where=spread > 0)
    out = value - (value - unit) * scale
    grey = spread[..., 0] == 0
    if grey.any():
        grey_value, grey_saturation = value[grey], new_saturation[grey]
        out[grey] = grey_value * np.concatenate([np.ones_like(grey_value), 1 - grey_saturation,
                                                 1 - grey_saturation], axis=1)
    return np.clip(out, 0, 1) * 255
