"""Every kind of input image: modes, dtypes, EXIF orientation, and unreadable files."""
import io
import struct
import zlib

import numpy as np
import pytest
import skimage.data
from PIL import Image

from qinstruct.corrupt import ImageInputError, corrupt, load_image

RGB = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((80, 60)))


def test_rgba_keeps_alpha_exactly():
    alpha = np.linspace(0, 255, 80 * 60).reshape(60, 80).astype(np.uint8)
    image = Image.fromarray(np.dstack([RGB, alpha]))
    out = corrupt(image, "gaussian_noise", 3, seed=1)
    assert out.mode == "RGBA" and out.size == image.size
    assert np.array_equal(np.asarray(out)[..., 3], alpha)
    assert not np.array_equal(np.asarray(out)[..., :3], RGB)


def test_grey_stays_grey():
    image = Image.fromarray(RGB).convert("L")
    out = corrupt(image, "motion_blur", 2, seed=1)
    assert out.mode == "L" and out.size == image.size


def test_la_keeps_alpha():
    image = Image.fromarray(RGB).convert("LA")
    out = corrupt(image, "fog", 2, seed=1)
    assert out.mode == "LA"
    assert np.array_equal(np.asarray(out)[..., 1], np.asarray(image)[..., 1])


def test_palette_becomes_rgb_or_rgba():
    palette = Image.fromarray(RGB).convert("P", palette=Image.Palette.ADAPTIVE)
    assert corrupt(palette, "contrast", 1).mode == "RGB"
    palette.info["transparency"] = 0
    assert corrupt(palette, "contrast", 1).mode == "RGBA"


def test_cmyk_round_trip():
    out = corrupt(Image.fromarray(RGB).convert("CMYK"), "pixelate", 3)
    assert out.mode == "CMYK" and out.size == (80, 60)


def test_sixteen_bit_grey_keeps_depth():
    grey16 = (np.asarray(Image.fromarray(RGB).convert("L")).astype(np.uint16) * 257)
    image = Image.fromarray(grey16)
    assert image.mode == "I;16"
    out = corrupt(image, "brightness", 2)
    assert out.mode == "I;16"
    values = np.asarray(out)
    assert values.dtype == np.uint16 and values.max() > 255  # scaled back to 16 bits


def test_bilevel_becomes_grey():
    assert corrupt(Image.fromarray(RGB).convert("1"), "gaussian_blur", 1).mode == "L"


def test_exif_rotated_jpeg_is_corrupted_upright(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(RGB).save(path, exif=exif)
    loaded = load_image(path)
    assert loaded.size == (60, 80)  # upright: width and height swapped
    assert corrupt(loaded, "frost", 1).size == (60, 80)
    with Image.open(path) as raw:  # an un-transposed Pillow image is turned upright too
        assert corrupt(raw, "frost", 1).size == (60, 80)


@pytest.mark.parametrize(
    "array",
    [
        RGB,
        RGB[..., 0],
        RGB[..., :1],
        np.dstack([RGB, np.full(RGB.shape[:2], 200, np.uint8)]),
        RGB.astype(np.uint16) * 257,
        RGB.astype(np.float32) / 255,
        RGB.astype(np.float64) / 255,
    ],
    ids=["uint8-rgb", "uint8-hw", "uint8-hw1", "uint8-rgba", "uint16", "float32", "float64"],
)
def test_arrays_keep_shape_and_dtype(array):
    out = corrupt(array, "impulse_noise", 4, seed=2)
    assert out.shape == array.shape and out.dtype == array.dtype
    if array.ndim == 3 and array.shape[2] == 4:
        assert np.array_equal(out[..., 3], array[..., 3])


def test_float_out_of_range_is_refused():
    with pytest.raises(ImageInputError, match=r"\[0, 1\]"):
        corrupt(RGB.astype(np.float32), "fog", 1)


def test_unsupported_dtype_and_shape():
    with pytest.raises(ImageInputError, match="unsupported array dtype"):
        corrupt(RGB.astype(np.int32), "fog", 1)
    with pytest.raises(ImageInputError, match="expected"):
        corrupt(np.zeros((40, 40, 2), np.uint8), "fog", 1)
    with pytest.raises(ImageInputError, match="Pillow image or a NumPy array"):
        corrupt([[1, 2]], "fog", 1)


def test_small_image_refused():
    with pytest.raises(ImageInputError, match="at least 32 px"):
        corrupt(np.zeros((31, 100, 3), np.uint8), "fog", 1)


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # Pillow reads up to the first IDAT chunk on open; the pixel data itself is a few compressed zeros.
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"hello, not an image", "not an image file"),
        (_png_claiming(10_000, 10_000), "100.0 megapixels, over the 64 MP limit"),
        (_png_claiming(20, 20), "at least 32 px"),
    ],
    ids=["zero-byte", "text", "bomb", "tiny"],
)
def test_load_image_errors_are_one_line(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageInputError, match=message) as info:
        load_image(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_truncated_jpeg(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageInputError, match="unreadable image data"):
        load_image(path)


def test_megapixel_limit_is_configurable(tmp_path):
    path = tmp_path / "ok.png"
    Image.fromarray(RGB).save(path)
    with pytest.raises(ImageInputError, match="over the 0.001 MP limit"):
        load_image(path, max_megapixels=0.001)
    assert load_image(path, max_megapixels=0.01).size == (80, 60)
