"""The Corrupt tab through gradio_client, as a script or another program would drive it."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from qinstruct.corrupt import corrupt

from ..helpers.jobs import watch_until_ended
from ..helpers.studio import tab_says


@pytest.fixture(scope="module")
def client(studio):
    return Client(studio["url"], verbose=False)


def test_grid_endpoint(client, shared_data):
    gallery, status, original, selected, download = client.predict(
        handle_file(str(shared_data / "images" / "sausage.jpg")), ["fog", "pixelate"], [1, 5], 4, 512,
        api_name="/corrupt_grid")
    cells = gallery["value"]
    assert [c["caption"].split(" · ")[:2] for c in cells] == [
        ["fog", "s1"], ["fog", "s5"], ["pixelate", "s1"], ["pixelate", "s5"]]
    assert all(c["caption"].endswith(" ms") for c in cells)
    assert "**4 cells**" in status and "seed 4" in status
    # the cell shown is the real corruption of the working image, with the stated seed
    work = Image.open(original)
    assert max(work.size) == 512
    shown = Image.open(Path(cells[1]["image"]).with_suffix(".png")) if Path(cells[1]["image"]).with_suffix(
        ".png").exists() else None
    expected = corrupt(work, "fog", 5, seed=4)
    preview = np.asarray(Image.open(cells[1]["image"]).convert("RGB"), dtype=int)
    assert np.abs(preview - np.asarray(expected, dtype=int)).mean() < 3  # JPEG preview of the same pixels
    assert shown is None or np.array_equal(np.asarray(shown), np.asarray(expected))


def test_grid_errors_are_messages(client, shared_data):
    tab_says(client.predict(handle_file(str(shared_data / "images" / "211.jpg")), [], [3], 0, 512,
                            api_name="/corrupt_grid"), "choose at least one corruption")


def test_demo_photo_endpoint(client):
    path = client.predict("coffee", api_name="/demo_photo")
    assert Image.open(path).size == (512, 341)


def test_batch_endpoint_resumes_and_reports_bad_files(client, shared_data, studio, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really")
    files = [handle_file(str(shared_data / "images" / name)) for name in ("211.jpg", "boy_colorful.jpg")]
    files.append(handle_file(str(bad)))
    status = client.predict(files, "", ["contrast"], [2], 1, False, 1, "api-batch", api_name="/corrupt_batch")
    assert "api-batch started" in status and "broken.jpg: not an image file (not copied)" in status  # its header
    done = watch_until_ended(client, "/corrupt_batch_watch", "api-batch")
    assert "**2 written**" in done
    written = studio["workspace"].batches / "api-batch"
    records = [json.loads(line) for line in (written / "manifest.jsonl").read_text().splitlines()]
    assert {r["source_rel"] for r in records} == {"211.jpg", "boy_colorful.jpg"}
    status = client.predict(files, "", ["contrast"], [2], 1, False, 1, "api-batch", api_name="/corrupt_batch")
    assert "api-batch resumes: it continues after the 2 images already done" in status
    done = watch_until_ended(client, "/corrupt_batch_watch", "api-batch")
    assert "**0 written**, 2 already done" in done
    assert len((written / "manifest.jsonl").read_text().splitlines()) == 2


def test_score_column_falls_with_severity_for_the_tuned_model_only(client, studio):
    """Under each cell, P(good) from the shipped micro baseline and tuned models (the tab's defaults)."""
    examples = (studio["workspace"].root / "demo" / "examples").glob("*-pristine.png")
    photo = next(p for p in examples if not p.name.startswith("scene"))  # the held-out photograph, 64 px
    client.predict(handle_file(str(photo)), ["defocus_blur", "gaussian_noise"], [1, 3, 5], 0, 512,
                   api_name="/corrupt_grid")
    gallery, table = client.predict("models/micro-baseline", "models/micro-mix", api_name="/corrupt_score")
    captions = [c["caption"] for c in gallery["value"]]
    assert captions[0].startswith("defocus_blur s1 · micro baseline ") and len(captions) == 6  # named models
    baseline = [float(c.split("micro baseline ")[1].split(" · ")[0]) for c in captions]
    tuned = [float(c.split("micro mix ")[1]) for c in captions]
    assert "seen whole at 64×64 px" in gallery["label"] and "seen whole at 64×64 px" in table  # the view, named
    original = re.search(r"Original: ([\d.]+) \([\d.]+\) / ([\d.]+)", table)
    assert float(original.group(2)) > max(tuned[2], tuned[5]) + 0.3  # blur s5 and noise s5 far below the original
    assert max(baseline) - min(baseline) < 0.1  # the baseline does not see them
    assert "| defocus_blur |" in table and "--corruption defocus_blur gaussian_noise --severity 1 3 5" in table


def test_score_needs_a_grid(studio):
    tab_says(Client(studio["url"], verbose=False).predict("models/micro-baseline", "models/micro-mix",
                                                          api_name="/corrupt_score"), "Make a grid first")
