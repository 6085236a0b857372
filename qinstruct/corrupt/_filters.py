"""Fast building blocks shared by the kernels.

Each helper reproduces one operation of the reference package (imagecorruptions) with OpenCV instead of
Python loops or scipy's generic interpolators.  The equivalence tests in tests/corrupt compare the kernels that
use them against the reference under the same random draws.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def gaussian_nearest(x: np.ndarray, sigma: float) -> np.ndarray:
    """skimage.filters.gaussian(x, sigma, channel_axis=-1) for float input: scipy's kernel (truncate 4)
    with 'nearest' borders, i.e. OpenCV's replicate border and an explicit kernel size."""
    radius = int(4.0 * sigma + 0.5)
    size = 2 * radius + 1
    return cv2.GaussianBlur(x, (size, size), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def zoom_center(x: np.ndarray, factor: float, out_shape: tuple[int, int] | None = None) -> np.ndarray:
    """The reference's clipped_zoom: crop the centre by `factor`, zoom it back with scipy.ndimage.zoom
    (order 1, grid_mode False); `out_shape` keeps its top-left corner (default: the whole zoom).  scipy maps
    output index o to input o * (n_in - 1) / (n_out - 1); an inverse affine warp with that scale does the same in
    one pass."""
    height, width = x.shape[:2]
    crop_h = int(np.ceil(height / float(factor)))
    crop_w = int(np.ceil(width / float(factor)))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    zoomed_h, zoomed_w = int(round(crop_h * factor)), int(round(crop_w * factor))
    scale_y = (crop_h - 1) / (zoomed_h - 1) if zoomed_h > 1 else 1.0
    scale_x = (crop_w - 1) / (zoomed_w - 1) if zoomed_w > 1 else 1.0
    out_h, out_w = out_shape if out_shape is not None else (zoomed_h, zoomed_w)
    matrix = np.array([[scale_x, 0.0, left], [0.0, scale_y, top]], dtype=np.float64)
    return cv2.warpAffine(
        x, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )


def motion_blur(x: np.ndarray, radius: int, sigma: float, angle: float) -> np.ndarray:
    """The reference's _motion_blur: a sum of edge-replicated shifts of the image weighted by a half
    Gaussian along a line.  A sum of shifted copies is a correlation with a sparse kernel, so we place the
    weights in a (2R+1)^2 kernel and let OpenCV filter once (DFT for large kernels)."""
    width = radius * 2 + 1
    taps = np.exp(-(np.arange(width) ** 2) / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma)
    taps /= taps.sum()
    point_y, point_x = width * math.sin(math.radians(angle)), width * math.cos(math.radians(angle))
    hypot = math.hypot(point_y, point_x)
    offsets = []
    for i in range(width):
        dy = -math.ceil((i * point_y) / hypot - 0.5)
        dx = -math.ceil((i * point_x) / hypot - 0.5)
        if abs(dy) >= x.shape[0] or abs(dx) >= x.shape[1]:
            break  # the reference stops once the motion leaves the image
        offsets.append((dy, dx, taps[i]))
    reach = max(max(abs(dy), abs(dx)) for dy, dx, _ in offsets)
    kernel = np.zeros((2 * reach + 1, 2 * reach + 1), dtype=np.float64)
    for dy, dx, weight in offsets:
        # shift(image, dx, dy)[y, x] == image[y - dy, x - dx] with replicated edges
        kernel[reach - dy, reach - dx] += weight
    src = x.astype(np.float32) if x.dtype == np.uint8 else x
    return cv2.filter2D(src, -1, kernel.astype(src.dtype), borderType=cv2.BORDER_REPLICATE)


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """The reference's anti-aliased disk used by defocus blur."""
    if radius <= 8:
        coords, ksize = np.arange(-8, 8 + 1), (3, 3)
    else:
        coords, ksize = np.arange(-radius, radius + 1), (5, 5)
    xx, yy = np.meshgrid(coords, coords)
    disk = np.array((xx**2 + yy**2) <= radius**2, dtype=np.float32)
    disk /= np.sum(disk)
    return cv2.GaussianBlur(disk, ksize=ksize, sigmaX=alias_blur)


def channel_max(x: np.ndarray) -> np.ndarray:
    """Max over the last axis, kept as (H, W, 1); elementwise over channel planes beats a reduction along a
    3-long axis several times over."""
    return np.maximum.reduce([x[..., i] for i in range(x.shape[-1])])[..., np.newaxis]


def channel_min(x: np.ndarray) -> np.ndarray:
    return np.minimum.reduce([x[..., i] for i in range(x.shape[-1])])[..., np.newaxis]
