"""Weather corruptions (snow, frost, fog, brightness, spatter).  Severity tables are the reference's."""
from __future__ import annotations

import functools
import importlib.resources

import cv2
import numpy as np
from scipy import ndimage

from ._filters import channel_max, motion_blur
from .registry import register


def _scipy_zoom_center(layer: np.ndarray, factor: float) -> np.ndarray:
    # Snow thresholds the zoomed layer, so it keeps scipy's exact arithmetic (the layer is small).
    height, width = layer.shape
    crop_h, crop_w = int(np.ceil(height / float(factor))), int(np.ceil(width / float(factor)))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return ndimage.zoom(layer[top : top + crop_h, left : left + crop_w], factor, order=1)


@register("snow", group="weather", common=True, label="snow")
def snow(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    loc, scale, zoom, threshold, radius, sigma, blend = [
        (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
        (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
    ][severity - 1]
    rs = np.random.RandomState(seed)
    height, width = x.shape[:2]
    unit = x.astype(np.float32) / 255.0
    flakes = _scipy_zoom_center(rs.normal(size=(height, width), loc=loc, scale=scale), zoom)
    flakes[flakes < threshold] = 0
    flakes = motion_blur(np.clip(flakes, 0, 1), radius, sigma, rs.uniform(-135, -45))
    flakes = (np.round(flakes * 255).astype(np.uint8) / np.float32(255))[:height, :width, np.newaxis]
    gray = cv2.cvtColor(unit, cv2.COLOR_RGB2GRAY)[..., np.newaxis]
    unit = blend * unit + (1 - blend) * np.maximum(unit, gray * 1.5 + 0.5)
    return np.clip(unit + flakes + np.rot90(flakes, k=2), 0, 1) * 255


@functools.lru_cache(maxsize=6)
def _frost_texture(index: int) -> np.ndarray:
    name = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg"][index]
    ref = importlib.resources.files("imagecorruptions") / "frost" / name
    data = np.frombuffer(ref.read_bytes(), dtype=np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR)  # BGR, like the reference's cv2.imread


@functools.lru_cache(maxsize=32)
def _frost_scaled(index: int, height: int, width: int) -> np.ndarray:
    """The texture rescaled (cubic) so that it covers (height, width) with 10 % margin, as the reference
    does on every call; cached because a batch or a grid reuses the same few sizes."""
    texture = _frost_texture(index)
    tex_h, tex_w = texture.shape[:2]
    scale = max(1.0, height / tex_h, width / tex_w) * 1.1
    size = (int(np.ceil(tex_w * scale)), int(np.ceil(tex_h * scale)))
    scaled = cv2.resize(texture, dsize=size, interpolation=cv2.INTER_CUBIC)
    scaled.setflags(write=False)
    return scaled


@register("frost", group="weather", common=True, label="frost")
def frost(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    weight_image, weight_frost = [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)][severity - 1]
    rs = np.random.RandomState(seed)
    height, width = x.shape[:2]
    texture = _frost_scaled(rs.randint(6), height, width)
    top, left = rs.randint(0, texture.shape[0] - height), rs.randint(0, texture.shape[1] - width)
    patch = texture[top : top + height, left : left + width][..., ::-1]  # BGR -> RGB
    return np.clip(weight_image * x + weight_frost * patch, 0, 255)


def plasma_fractal(map_size: int, wibble_decay: float, rs: np.random.RandomState) -> np.ndarray:
    """Diamond-square height map in [0, 1], drawing from `rs` in the reference's order."""
    heights = np.empty((map_size, map_size), dtype=np.float32)
    heights[0, 0] = 0
    step = map_size
    wibble = 100.0

    def wibbled_mean(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * rs.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = heights[0:map_size:step, 0:map_size:step]
        square = corners + np.roll(corners, shift=-1, axis=0)
        square += np.roll(square, shift=-1, axis=1)
        heights[half:map_size:step, half:map_size:step] = wibbled_mean(square)

        centres = heights[half:map_size:step, half:map_size:step]
        corners = heights[0:map_size:step, 0:map_size:step]
        left_right = (centres + np.roll(centres, 1, axis=0)) + (corners + np.roll(corners, -1, axis=1))
        heights[0:map_size:step, half:map_size:step] = wibbled_mean(left_right)
        top_bottom = (centres + np.roll(centres, 1, axis=1)) + (corners + np.roll(corners, -1, axis=0))
        heights[half:map_size:step, 0:map_size:step] = wibbled_mean(top_bottom)
        step //= 2
        wibble /= wibble_decay
    heights -= heights.min()
    return heights / heights.max()


@register("fog", group="weather", common=True, label="fog")
def fog(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    strength, decay = [(1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)][severity - 1]
    height, width = x.shape[:2]
    map_size = 1 << (max(height, width, 3) - 1).bit_length()  # next power of two, as the reference
    unit = x / 255.0
    max_value = unit.max()
    unit += strength * plasma_fractal(map_size, decay, np.random.RandomState(seed))[:height, :width, np.newaxis]
    return np.clip(unit * max_value / (max_value + strength), 0, 1) * 255


@register("brightness", group="weather", common=True, label="over-brightness")
def brightness(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    """Raise V in HSV by `shift`, as the reference does through skimage's rgb2hsv/hsv2rgb.  With hue and
    saturation fixed, RGB scales linearly with V, so out = rgb * V'/V; black pixels (V = 0, S = 0 by
    skimage's convention) become grey V'."""
    shift = np.float32([0.1, 0.2, 0.3, 0.4, 0.5][severity - 1])
    unit = x.astype(np.float32) / 255.0  # float32: same result to a unit in the last place, twice as fast
    value = channel_max(unit)
    new_value = np.minimum(value + shift, 1.0)
    ratio = np.divide(new_value, value, out=np.zeros_like(value), where=value > 0)
    out = unit * ratio
    black = value[..., 0] == 0
    out[black] = new_value[black]
    return np.clip(out, 0, 1, out=out) * 255


@register("spatter", group="weather", common=False, label="spatter")
def spatter(x: np.ndarray, severity: int, seed: int) -> np.ndarray:
    loc, scale, sigma, threshold, intensity, mud = [
        (0.65, 0.3, 4, 0.69, 0.6, 0),
        (0.65, 0.3, 3, 0.68, 0.6, 0),
        (0.65, 0.3, 2, 0.68, 0.5, 0),
        (0.65, 0.3, 1, 0.65, 1.5, 1),
        (0.67, 0.4, 1, 0.65, 1.5, 1),
    ][severity - 1]
    unit = x.astype(np.float32) / 255.0
    liquid = np.random.RandomState(seed).normal(size=x.shape[:2], loc=loc, scale=scale)
    # scipy's filter exactly as skimage.filters.gaussian calls it: the layer is thresholded and fed to
    # Canny next, where a last-bit difference could move an edge.
    liquid = ndimage.gaussian_filter(liquid, sigma, mode="nearest", truncate=4.0)
    liquid[liquid < threshold] = 0
    if not mud:  # water drops, pale turquoise
        liquid = (liquid * 255).astype(np.uint8)
        dist = 255 - cv2.Canny(liquid, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
        dist = cv2.filter2D(dist, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        mask = (liquid * dist)[..., np.newaxis]
        peak = mask.max()
        if peak > 0:  # the reference divides each of its 4 identical BGRA planes by this peak (NaN when 0)
            mask /= peak
        mask *= intensity
        water = np.array([175, 238, 238], dtype=np.float32) / 255.0
        return np.clip(unit + mask * water, 0, 1) * 255
    mask = ndimage.gaussian_filter((liquid > threshold).astype(np.float32), intensity, mode="nearest", truncate=4.0)
    mask[mask < 0.8] = 0
    mud_colour = np.array([63, 42, 20], dtype=np.float64) / 255.0
    unit *= 1 - mask[..., np.newaxis]
    return np.clip(unit + mud_colour * mask[..., np.newaxis], 0, 1) * 255
