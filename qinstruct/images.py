"""Reading image files safely: the one place every package (corrupt, models, data, the studio) opens images.

A file is checked before its pixels are decoded (format among those we support, size within the megapixel
limit: a 30000 x 30000 PNG header is refused without allocating anything), then decoded in full so that a
truncated file fails here with one line, not later inside a kernel or a model.
"""
from __future__ import annotations

import struct
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import UserError

DEFAULT_MAX_MEGAPIXELS = 64.0
# Formats people keep photographs and datasets in (the JPEG plugin also opens MPO files).  Pillow reads many
# more (XPM, QOI, ICNS, ...), whose decoders accept odd or fuzzed data that then breaks later: refused here.
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "TIFF": "TIFF", "BMP": "BMP",
           "GIF": "GIF", "PPM": "PPM/PGM"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".ppm", ".pgm")


# what Pillow raises on damaged data: truncation, bad headers -- and, for a flipped byte in a TIFF's tags, whatever
# Python raises inside a decoder
DAMAGED = (OSError, SyntaxError, ValueError, EOFError, struct.error, TypeError, KeyError, IndexError,
           ZeroDivisionError, AttributeError, OverflowError)
SUFFIXES_OF_FORMAT = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",), "WEBP": (".webp",), "TIFF": (".tif", ".tiff"),
                      "BMP": (".bmp",), "GIF": (".gif",), "PPM": (".ppm", ".pgm")}


def sniffed_name(path: str | Path) -> str | None:
    """The file's name with a suffix that says what it *is* (its own suffix when that fits the content, else the
    format's: PNG data called photo.jpg is photo.png), from its header alone; None when it is not an image of a
    format we read.  Uploads are stored under this name, so a data file renamed photo.png never enters the
    workspace as an image."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=list(FORMATS)) as opened:
                suffixes = SUFFIXES_OF_FORMAT.get(opened.format or "")
    except (*DAMAGED, Image.DecompressionBombError):
        return None
    if not suffixes:
        return None
    return path.name if path.suffix.lower() in suffixes else path.stem + suffixes[0]


class ImageInputError(UserError, ValueError):
    """An image that cannot be used; the message is one line meant for the user."""


def check_pixels(width: int, height: int, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS, min_side: int = 1) -> None:
    if width < min_side or height < min_side:
        raise ImageInputError(f"image is {width}x{height} px; need at least {min_side} px on each side")
    if not max_megapixels > 0:  # also refuses NaN, which would switch the guard off
        raise ImageInputError(f"the megapixel limit must be a positive number, got {max_megapixels}")
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise ImageInputError(
            f"image is {width}x{height} = {megapixels:.1f} megapixels, over the {max_megapixels:g} MP limit "
            "(a possible decompression bomb; raise --max-megapixels if you trust it)"
        )


def read_image(path: str | Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS, min_side: int = 1) -> Image.Image:
    """Open and fully decode an image file, upright (EXIF orientation applied), or raise ImageInputError.

    Animated files give their first frame; `image.info["frames"]` then holds the frame count so that callers
    can say so."""
    path = Path(path)
    if path.is_dir():
        raise ImageInputError(f"{path}: is a folder, not an image file")
    if not path.is_file():
        raise ImageInputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageInputError(f"{path}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # We apply our own pixel limit below, before decoding; Pillow's warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=list(FORMATS)) as opened:
                check_pixels(opened.width, opened.height, max_megapixels, min_side)
                frames = getattr(opened, "n_frames", 1)
                opened.seek(0)
                opened.load()
                image = ImageOps.exif_transpose(opened)
                if image is opened:
                    image = opened.copy()
    except ImageInputError as error:
        raise ImageInputError(f"{path}: {error}") from None
    except Image.DecompressionBombError as error:
        raise ImageInputError(f"{path}: refused as a decompression bomb by Pillow ({error})") from None
    except UnidentifiedImageError:
        raise ImageInputError(f"{path}: not an image file we read (supported: "
                              f"{', '.join(dict.fromkeys(FORMATS.values()))})") from None
    except DAMAGED as error:  # truncated or corrupt data
        raise ImageInputError(f"{path}: unreadable image data ({error or type(error).__name__})") from None
    if frames > 1:
        image.info["frames"] = frames
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB for models: any mode (CMYK, LAB, 16-bit and float grey, palette, alpha over white) as 8-bit RGB."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if image.mode == "F" and values.max(initial=0) <= 1.0 else (65535.0 if values.max(initial=0) > 255
                                                                              else 255.0)
        grey = np.clip(np.round(np.nan_to_num(values) / top * 255), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")


def load_rgb(path: str | Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> Image.Image:
    """An image file as 8-bit RGB, for models and figures."""
    return to_rgb(read_image(path, max_megapixels))


__all__ = ["DEFAULT_MAX_MEGAPIXELS", "FORMATS", "IMAGE_SUFFIXES", "ImageInputError", "check_pixels", "load_rgb",
           "read_image", "sniffed_name", "to_rgb"]
