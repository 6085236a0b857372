"""The grid behind the Corrupt tab: cells, reuse of identical grids, zip and contact sheet."""
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from qinstruct.corrupt import corrupt
from qinstruct.corrupt.grid import GridConfig, contact_sheet, load_grid, run_grid, zip_grid
from qinstruct.errors import UserError
from qinstruct.photos import demo_photo, list_demo_photos


def test_grid_cells_are_the_corruptions_of_the_working_image(tmp_path):
    photo = demo_photo("coffee", 1024)
    config = GridConfig(corruptions=["fog", "glass_blur"], severities=[2, 5], seed=9, max_side=200)
    result, reused = run_grid(photo, config, tmp_path)
    assert not reused and len(result.cells) == 4 and max(result.size) == 200
    work = Image.open(result.path(result.original))
    for cell in result.cells:
        saved = np.asarray(Image.open(result.path(cell.image)))
        assert np.array_equal(saved, np.asarray(corrupt(work, cell.corruption, cell.severity, seed=9)))
        assert cell.milliseconds > 0 and cell.caption.startswith(f"{cell.corruption} · s{cell.severity} · ")
    again, reused = run_grid(photo, config, tmp_path)
    assert reused and again.folder == result.folder
    other, reused = run_grid(photo, GridConfig(corruptions=["fog"], severities=[2], seed=10, max_side=200), tmp_path)
    assert not reused and other.folder != result.folder
    assert load_grid(result.folder).cells == result.cells


def test_zip_holds_every_cell_and_a_contact_sheet(tmp_path):
    result, _ = run_grid(demo_photo("rocket"), GridConfig(corruptions=["snow", "contrast"], severities=[1, 3],
                                                          max_side=128), tmp_path)
    path = zip_grid(result, tmp_path / "g.zip")
    names = set(zipfile.ZipFile(path).namelist())
    assert names == {"original.png", "grid.json", "contact_sheet.png", "snow_s1.png", "snow_s3.png",
                     "contrast_s1.png", "contrast_s3.png"}
    assert json.loads(zipfile.ZipFile(path).read("grid.json"))["seed"] == 0
    sheet = contact_sheet(result, thumb=100)
    assert sheet.size == (150 + 3 * 100, 22 + 2 * 100)


def test_rgba_upload_keeps_alpha_in_cells(tmp_path):
    rgba = demo_photo("chelsea").convert("RGBA")
    result, _ = run_grid(rgba, GridConfig(corruptions=["fog"], max_side=0), tmp_path)
    assert Image.open(result.path(result.cells[0].image)).mode == "RGBA"
    assert Image.open(result.path(result.cells[0].preview)).mode == "RGB"  # JPEG preview


@pytest.mark.parametrize("config, message", [
    (GridConfig(corruptions=[]), "at least one corruption"),
    (GridConfig(severities=[0]), "severities"),
    (GridConfig(max_side=16), "max_side"),
    (GridConfig(corruptions=["nope"]), "corruptions: expected one of gaussian_noise"),
    (GridConfig(max_side=0, max_megapixels=0.1), "over the 0.1 MP limit"),
])
def test_bad_grid_configs(tmp_path, config, message):
    with pytest.raises(UserError, match=message):  # ConfigError, or ImageInputError for the size
        run_grid(demo_photo("camera"), config, tmp_path)


def test_demo_photos_are_bundled_and_downscaled():
    assert {"astronaut", "coffee", "chelsea", "rocket", "motorcycle"} <= set(list_demo_photos())
    for name in list_demo_photos():
        photo = demo_photo(name)
        assert photo.mode == "RGB" and max(photo.size) <= 512
    with pytest.raises(KeyError, match="unknown demo photo"):
        demo_photo("lena")
