"""The Statistics tab through gradio_client and in Chromium."""
import json
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from app.tabs import stats as tab

from ..helpers.studio import tab_says
from .browser import chromium_page


@pytest.fixture(scope="module")
def client(studio):
    return Client(studio["url"], verbose=False)


def test_load_files_filter_and_balance(client, shared_data):
    sources, status, *_ = client.predict(  # the selection itself stays in the session's state
        "Files", [handle_file(str(shared_data / "qbench/mos/livec.json"))],
        f"{shared_data}/qbench/mos/agi.json=AGIQA-3K", "", api_name="/stats_load")
    assert sources["choices"] and {c[0] for c in sources["choices"]} == {"livec", "AGIQA-3K"}
    assert "source(s)" in status  # loaded and shown at once
    outputs = client.predict(["AGIQA-3K"], 0, 100, 500, 10, 0, api_name="/stats_update")
    status, table, *figures, download, shell = outputs
    assert "Same job from a shell" in shell and "qinstruct stats report" in shell
    assert "**2,982 images**, 1 source(s)" in status
    assert "| AGIQA-3K | 2,982 | 50.01 | 19.95 | 500 |" in table
    assert all(Path(f).is_file() for f in figures)
    names = set(zipfile.ZipFile(download["value"]).namelist())
    assert {"report.md", "table1.csv", "mos_histograms.png", "word_cloud.png"} <= names


def test_bad_file_is_a_message_not_a_crash(client, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"img_path": 1, "gt_score": 2}]')
    tab_says(client.predict("Files", [handle_file(str(bad))], "", "", api_name="/stats_load"), "cannot|expected|valid")
    # the studio is still alive and answers the next request
    assert client.predict("coffee", api_name="/demo_photo")


def test_demo_world_figures_in_the_browser(studio, artifacts):
    with chromium_page() as page:
        page.goto(studio["url"])
        page.get_by_role("tab", name="Statistics").click()
        page.locator(f"#{tab.FIGURE_IDS['word_cloud']} img").wait_for(timeout=60_000)
        assert "240 images" in page.locator(f"#{tab.STATUS_ID}").inner_text()
        table = page.locator(f"#{tab.TABLE_ID}").inner_text()
        assert "scenes" in table and "σ" in table
        page.get_by_label("Also balance to N items per source (0: no balancing)").fill("30")
        page.get_by_label("Also balance to N items per source (0: no balancing)").press("Enter")
        page.get_by_role("button", name="Update").click()
        page.get_by_text("sampled size").wait_for(timeout=30_000)
        page.locator(f"#{tab.FIGURE_IDS['conclusion_by_mos']} img").wait_for()
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "stats_tab.png"), full_page=True)
        world = json.loads((studio["workspace"].demo_world / "world.json").read_text())
        assert world["counts"]["images"] == 240
