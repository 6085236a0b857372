"""The corruption grid (corruption x severity) of one image: the Corrupt tab's main view.

Cells are computed in a thread pool (the kernels hold no global state and spend their time in NumPy and
OpenCV, which release the GIL), saved as PNG (full quality, for download) and JPEG (light, for display), and
described in grid.json so that the studio can show a grid again after a reload.
"""
from __future__ import annotations

import hashlib
import json
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from ..config import ConfigError, check_config, option
from ..fileio import write_json
from ..images import to_rgb
from .api import MAX_SEED, corrupt
from .images import check_size
from .registry import SEVERITIES, list_corruptions


@dataclass
class GridConfig:
    corruptions: list[str] = option(default_factory=lambda: list_corruptions("common"),
                                    help="corruptions (rows of the grid)", choices=list_corruptions)
    severities: list[int] = option(default_factory=lambda: [3], help="severities (columns)", choices=SEVERITIES)
    seed: int = option(0, help="seed shared by every cell", min=0, max=MAX_SEED)
    max_side: int = option(512, help="downscale so the longest side is at most this; 0 keeps the size", min=0,
                           max=16384)
    workers: int = option(2, help="threads computing cells", min=1, max=64)
    max_megapixels: float = option(16.0, help="refuse larger working images (the grid holds every cell in memory)",
                                   gt=0, max=10_000)

    def validate(self) -> None:
        if not self.corruptions:
            raise ConfigError("choose at least one corruption")
        if not self.severities:
            raise ConfigError("choose at least one severity")
        if 0 < self.max_side < 32:
            raise ConfigError("max_side must be 0 (keep size) or at least 32")


@dataclass
class GridCell:
    corruption: str
    severity: int
    milliseconds: float
    image: str  # PNG, relative to the grid folder
    preview: str  # JPEG, relative to the grid folder

    @property
    def caption(self) -> str:
        return f"{self.corruption} · s{self.severity} · {self.milliseconds:.0f} ms"


@dataclass
class GridResult:
    folder: Path
    original: str
    size: tuple[int, int]
    seed: int
    cells: list[GridCell]
    wall_milliseconds: float

    def path(self, relative: str) -> Path:
        return self.folder / relative

    def cell(self, corruption: str, severity: int) -> GridCell:
        return next(c for c in self.cells if c.corruption == corruption and c.severity == severity)


def working_image(image: Image.Image | np.ndarray, max_side: int,
                  max_megapixels: float = float("inf")) -> Image.Image:
    """Upright, in a mode every cell can be shown and saved in (RGB, RGBA, L, LA: CMYK, LAB, 16-bit and float
    images become RGB), downscaled (Lanczos) so that the longest side is at most max_side (0: unchanged)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image = ImageOps.exif_transpose(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = to_rgb(image)
    scale = max_side / max(image.size) if max_side else 1.0
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.LANCZOS)
    check_size(*image.size, max_megapixels=max_megapixels)
    return image


def _save_pair(image: Image.Image, folder: Path, stem: str) -> tuple[str, str]:
    png, jpg = f"{stem}.png", f"{stem}.jpg"
    image.save(folder / png, compress_level=1)  # fast; a few % larger than level 6
    preview = image if image.mode in ("RGB", "L") else image.convert("RGB")
    preview.save(folder / jpg, quality=90)
    return png, jpg


def grid_key(work: Image.Image, config: GridConfig) -> str:
    """Content address of a grid: the working image's pixels and the settings that change the output."""
    digest = hashlib.sha256(f"{work.mode}|{work.size}|{config.corruptions}|{config.severities}|{config.seed}".encode())
    digest.update(work.tobytes())
    return digest.hexdigest()[:20]


def run_grid(image: Image.Image | np.ndarray, config: GridConfig, root: Path) -> tuple[GridResult, bool]:
    """Compute the grid into root/<content key>/, or load it if that exact grid was computed before.
    Returns (result, reused)."""
    check_config(config)
    started = time.perf_counter()
    work = working_image(image, config.max_side, config.max_megapixels)
    folder = root / grid_key(work, config)
    if (folder / "grid.json").is_file():
        return load_grid(folder), True
    folder.mkdir(parents=True, exist_ok=True)
    original, _ = _save_pair(work, folder, "original")

    def compute(job: tuple[str, int]) -> GridCell:
        name, severity = job
        tic = time.perf_counter()
        out = corrupt(work, name, severity, config.seed)
        milliseconds = (time.perf_counter() - tic) * 1000
        png, jpg = _save_pair(out, folder, f"{name}_s{severity}")
        return GridCell(name, severity, round(milliseconds, 1), png, jpg)

    jobs = [(name, severity) for name in config.corruptions for severity in config.severities]
    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        cells = list(pool.map(compute, jobs))
    result = GridResult(folder, original, work.size, config.seed, cells, (time.perf_counter() - started) * 1000)
    meta = {"original": original, "size": list(work.size), "seed": config.seed,
            "cells": [asdict(c) for c in cells], "wall_milliseconds": round(result.wall_milliseconds, 1)}
    write_json(folder / "grid.json", meta)  # written last: its presence means the grid is complete
    return result, False


def load_grid(folder: Path) -> GridResult:
    meta = json.loads((folder / "grid.json").read_text())
    cells = [GridCell(**c) for c in meta["cells"]]
    return GridResult(folder, meta["original"], tuple(meta["size"]), meta["seed"], cells, meta["wall_milliseconds"])


def contact_sheet(result: GridResult, thumb: int = 160) -> Image.Image:
    """One picture of the whole grid, rows = corruptions, columns = severities, labelled: for slides."""
    names = list(dict.fromkeys(c.corruption for c in result.cells))
    severities = sorted({c.severity for c in result.cells})
    label_w, label_h = 150, 22
    sheet = Image.new("RGB", (label_w + thumb * (len(severities) + 1), label_h + thumb * len(names)), "white")
    draw = ImageDraw.Draw(sheet)
    original = Image.open(result.path(result.original)).convert("RGB")
    original.thumbnail((thumb, thumb))
    for col, title in enumerate(["original"] + [f"severity {s}" for s in severities]):
        draw.text((label_w + col * thumb + 4, 4), title, fill="black")
    for row, name in enumerate(names):
        top = label_h + row * thumb
        draw.text((4, top + thumb // 2 - 6), name, fill="black")
        sheet.paste(original, (label_w, top))
        for col, severity in enumerate(severities, start=1):
            cell = Image.open(result.path(result.cell(name, severity).preview)).convert("RGB")
            cell.thumbnail((thumb, thumb))
            sheet.paste(cell, (label_w + col * thumb, top))
    return sheet


def zip_grid(result: GridResult, path: Path) -> Path:
    """Every cell at full quality, the original, grid.json and the contact sheet."""
    sheet_path = result.folder / "contact_sheet.png"
    contact_sheet(result).save(sheet_path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for name in [result.original, "grid.json", "contact_sheet.png"] + [c.image for c in result.cells]:
            archive.write(result.folder / name, arcname=name)
    return path
