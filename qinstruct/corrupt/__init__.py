"""Corruption engine: the 15 common corruptions of the paper and 4 extra, seeded and thread-safe."""
# Importing the kernel modules registers them; this order (noise, blur, weather, digital) is the paper's.
from . import noise, blur, weather, digital  # noqa: F401, I001  # isort: skip
from .api import corrupt, corrupt_rgb8
from .images import DEFAULT_MAX_MEGAPIXELS, ImageInputError, load_image
from .registry import SEVERITIES, Corruption, get_corruption, list_corruptions

__all__ = [
    "DEFAULT_MAX_MEGAPIXELS",
    "SEVERITIES",
    "Corruption",
    "ImageInputError",
    "corrupt",
    "corrupt_rgb8",
    "get_corruption",
    "list_corruptions",
    "load_image",
]
