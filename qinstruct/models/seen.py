"""What a model sees of an image: the pixels its image processor hands the model, turned back into pictures.

A 2-megapixel photograph reaches LLaVA-1.5 as one 336 × 336 square (padded to a square, resized), Idefics3 as
several tiles, Qwen2-VL at a size rounded to its patches, and the micro demo models as 64 × 64 tiles at the
photograph's own resolution (models/tiles.py; in a thumbnail a blur of a few pixels is a fraction of one).  The
Chat tab shows this under the image (the Corrupt tab what its score column rates), so a speaker and an audience
see why a model does or does not notice a distortion.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .types import Rating


@dataclass
class SeenImage:
    images: list[Image.Image]  # what the model's vision tower receives (one, or its tiles); empty for an endpoint
    caption: str
    name: str = ""  # who sees it, as the caption names them


def _to_picture(pixels: np.ndarray, processor) -> Image.Image:
    """(3, H, W) normalised pixels back to an RGB picture (undoing mean / std and the 1/255 rescale)."""
    mean = np.asarray(getattr(processor, "image_mean", None) or (0.0, 0.0, 0.0), dtype=np.float32)[:, None, None]
    std = np.asarray(getattr(processor, "image_std", None) or (1.0, 1.0, 1.0), dtype=np.float32)[:, None, None]
    values = pixels.astype(np.float32)
    if getattr(processor, "do_normalize", True):
        values = values * std + mean
    scale = 255.0 if getattr(processor, "do_rescale", True) else 1.0
    return Image.fromarray(np.clip(values.transpose(1, 2, 0) * scale, 0, 255).round().astype(np.uint8))


def seen_by(side, image: Image.Image, name: str | None = None) -> SeenImage:
    """What `side` (a loaded model, or an endpoint) sees of `image`; `name` says who in the caption."""
    width, height = image.size
    name = name or side.label
    if getattr(side, "kind", "local") == "failed":
        return SeenImage([], f"{name}: {side.label}", name)
    if getattr(side, "kind", "local") != "local":
        return SeenImage([], f"{name}: the image is sent as it is ({width}×{height} px); the server decides what "
                             "its model sees", name)
    from .chat import prepare_image
    from .tiles import native_tiles, tiled

    tiles = native_tiles(image.convert("RGB")) if tiled(side) else []
    if tiles:
        size = tiles[0].size[0]
        return SeenImage(tiles, f"{name} sees {size}×{size} px tiles of this {width}×{height} px image at its own "
                                f"resolution: a rating is the mean over these {len(tiles)}, an answer is about the "
                                "centre one", name)
    prepared = prepare_image(side, image)
    processor = side.processor.image_processor
    batch = processor(images=[[prepared]] if side.family.nested_images else [prepared], return_tensors="pt")
    pixels = batch["pixel_values"].float().numpy()
    if pixels.ndim == 4 and "image_grid_thw" not in batch:  # (1, 3, H, W): one square
        pictures = [_to_picture(pixels[0], processor)]
    elif pixels.ndim == 5:  # (1, tiles, 3, H, W): Idefics3's split image (and its global view)
        mask = batch.get("pixel_attention_mask")
        kept = [i for i in range(pixels.shape[1]) if mask is None or bool(mask[0, i].any())]
        pictures = [_to_picture(pixels[0, i], processor) for i in kept]
    else:  # Qwen2-VL: flattened patches on a grid; the picture is the resized image
        _, rows, columns = (int(v) for v in batch["image_grid_thw"][0])
        patch = int(getattr(processor, "patch_size", 14))
        pictures = [prepared.resize((columns * patch, rows * patch), Image.BICUBIC)]
    side_w, side_h = pictures[0].size
    shape = f"{side_w}×{side_h} px" if len(pictures) == 1 else f"{len(pictures)} tiles of {side_w}×{side_h} px"
    padded = " (padded to a square first)" if side.family.pad_square and width != height else ""
    return SeenImage(pictures, f"{name} sees {shape} of this {width}×{height} px image{padded}", name)


def seen_for_scoring(side, image: Image.Image, name: str) -> SeenImage:
    """What the Corrupt tab's score column rates: the image at the model's input size, corrupted there."""
    size = input_side(side) if getattr(side, "kind", "local") == "local" else None
    if size is None:
        return seen_by(side, image, name)
    width, height = image.size
    return SeenImage([as_model_sees(side, image)], f"{name} scores each cell at its input size: {size}×{size} px "
                                                   f"of this {width}×{height} px image, corrupted there", name)


def input_side(model) -> int | None:
    """The square side a local model's image processor resizes to (None: unknown, e.g. a remote model)."""
    processor = getattr(getattr(model, "processor", None), "image_processor", None)
    size = getattr(processor, "crop_size", None) or getattr(processor, "size", None)
    size = dict(size) if size is not None and not isinstance(size, int) else size
    if isinstance(size, dict):
        size = size.get("height") or size.get("shortest_edge")
    return int(size) if size else None


def as_model_sees(model, image):
    """The image at the model's input size, prepared as the model prepares it (LLaVA pads to a square): a
    corruption applied after this is what the model sees, not one averaged away by the processor's downscaling."""
    from PIL import Image

    from .chat import prepare_image

    side = input_side(model)
    if side is None:
        return image
    return prepare_image(model, image).resize((side, side), Image.Resampling.BICUBIC)


def corrupted_variants(model, image, cells: list[tuple[str, int]], seed: int) -> list[tuple[str | None, int, object]]:
    """(corruption, severity, image): the image as the model sees it, then each (corruption, severity) of it."""
    from ..corrupt import corrupt

    seen = as_model_sees(model, image)
    return [(None, 0, seen)] + [(name, severity, corrupt(seen, name, severity, seed=seed)) for name, severity in cells]


def rate_cells(models: list, image, cells: list[tuple[str, int]], seed: int) -> list[list[Rating]]:
    """Per model: its rating of the image as it sees it, then of each (corruption, severity) of that (the
    Corrupt tab's score column; `qinstruct rate IMAGE --corruption ... --severity ...` per model)."""
    out = []
    for model in models:
        variants = corrupted_variants(model, image, cells, seed)
        out.append(model.rate([variant for _, _, variant in variants], batch_size=16))
    return out
