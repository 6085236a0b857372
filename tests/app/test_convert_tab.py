"""The Convert tab: preview (offline and against a local OpenAI-compatible server), batch, export."""
import json
from pathlib import Path

import pytest
from gradio_client import Client

from app.tabs import convert as tab

from ..convert.test_openai_backend import good_answer
from ..helpers.jobs import watch_until_ended
from ..helpers.openai_server import openai_server
from .browser import chromium_page

FEEDBACK = "The duck on the left is heavily blurred. Thus, the quality of the image is poor."


@pytest.fixture(scope="module")
def client(studio):
    return Client(studio["url"], verbose=False)


def test_preview_offline_pasted_feedback(client):
    status, prompt, response, rows = client.predict(
        kind="Embedded demo world", upload=None, feedback_id=None, pasted=FEEDBACK, backend="offline", api_key="",
        subsets=["yes-no", "what", "context"], api_name="/convert_preview")
    assert "items** from `pasted#0`" in status and "no validation problems" in status
    types = {row[0] for row in rows["data"]}
    assert types == {"yes-no", "what", "context"} and all(row[4] == "ok" for row in rows["data"])


def test_preview_against_an_openai_compatible_server(client):
    with openai_server(good_answer) as (url, requests):
        status, prompt, response, rows = client.predict(
            kind="Embedded demo world", upload=None, feedback_id=None, pasted=FEEDBACK, backend="openai", model="gpt-4o",
            base_url=url, api_key="sk-tab-key", api_name="/convert_preview")
    assert "2 call(s)" in status and "$" in status
    assert "[system]" in prompt and "json_schema" in prompt and '"yes_no"' in response
    assert len(rows["data"]) >= 8
    assert requests[0]["headers"]["authorization"] == "Bearer sk-tab-key"


def test_an_endpoint_that_cannot_work_is_one_line_and_the_last_preview_stays(client):
    status, prompt, response, rows = client.predict(
        kind="Embedded demo world", upload=None, feedback_id=None, pasted=FEEDBACK, backend="openai",
        model="gpt-4o", base_url="http://no-such-host.invalid/v1", api_key="k", api_name="/convert_preview")
    assert status.startswith("⚠ **Not converted:** cannot reach http://no-such-host.invalid/v1: unknown host")
    assert prompt == response == rows == {"__type__": "update"}  # left as they were: the last preview stays


def test_batch_and_export(client, studio):
    _, loaded = client.predict(kind="Embedded demo world", upload=None, api_name="/convert_load")
    assert loaded.startswith("Loaded the first 500 of the file's feedbacks")
    estimate = client.predict(kind="Embedded demo world", upload=None, backend="offline", name="tab-run",
                              api_name="/convert_estimate")
    assert "720 feedback(s)" in estimate and "costs nothing" in estimate
    status = client.predict(kind="Embedded demo world", upload=None, backend="offline", name="tab-run", api_key="",
                            api_name="/convert_run")
    assert "tab-run started" in status or "tab-run resumes" in status
    assert "Same job from a shell" in status and "qinstruct convert" in status
    done = watch_until_ended(client, "/convert_watch", "tab-run")
    assert "**tab-run**: done" in done and "items from 720 feedbacks" in done
    report = json.loads((studio["workspace"].root / "convert" / "tab-run" / "report.json").read_text())
    assert set(report["by_type"]) >= {"pathway", "yes-no", "what", "how"}
    files, note = client.predict(target="trl", api_name="/convert_export")
    assert any(Path(f).name.endswith(".jsonl") for f in files) and note == f"Exported {len(files)} file(s) for trl."
    out = studio["workspace"].root / "convert" / "tab-run" / "items.json"
    assert len(json.loads(out.read_text())) > 720


def test_preview_in_the_browser(studio, artifacts):
    with chromium_page() as page:
        page.goto(studio["url"])
        page.get_by_role("tab", name="Convert").click()
        page.get_by_role("button", name="Load feedbacks").click()
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="Preview conversion").click()
        page.locator(f"#{tab.PREVIEW_ID}").get_by_text("items").wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "convert_tab.png"), full_page=True)


def test_the_preview_appears_where_the_user_looks(studio, artifacts):
    """At 1280 x 720 the Preview button sits at the foot of a tall column and its result at the top of the other:
    pressed, the result is in view."""
    with chromium_page(1280, 720) as page:
        page.goto(studio["url"])
        page.get_by_role("tab", name="Convert").click()
        page.get_by_role("button", name="Load feedbacks").click()
        page.wait_for_timeout(1500)
        button = page.get_by_role("button", name="Preview conversion")
        button.scroll_into_view_if_needed()
        button.click()
        status = page.locator(f"#{tab.PREVIEW_ID}")
        status.get_by_text("items").wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        shown = status.bounding_box()
        assert shown is not None and -2 <= shown["y"] and shown["y"] + shown["height"] <= 720, shown  # in view
        page.screenshot(path=str(artifacts / "convert_preview_in_view_1280x720.png"))
