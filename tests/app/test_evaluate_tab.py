"""The Evaluate tab: the demo's held-out sets on the Chat tab's two models, tables and radar filling in, earlier
runs compared, the arena from blind votes, and a browser screenshot."""
import json
import time
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client

from app.tabs import evaluate as tab

from ..helpers.jobs import evaluations_done, start_evaluation
from ..helpers.studio import tab_says
from .browser import chromium_page

MODELS = ["models/tiny-llava", "models/tiny-llava-lora"]


@pytest.fixture(scope="module")
def client(studio):
    return Client(studio["url"], verbose=False)


def test_evaluate_compare_and_arena(client, studio):
    status = start_evaluation(client, "tab", MODELS, ["A1", "A3", "A2"], limit=8)
    assert "tab-a1 started" in status and "qinstruct eval a1 --questions" in status and "--model" in status
    status, tables = evaluations_done(client, ["tab-a1", "tab-a3", "tab-a2"])
    assert "Done: 3 of 3 evaluation(s)" in status
    assert "A1 perception, letter protocol" in tables and "A3 quality assessment" in tables and "A2 description" in tables
    assert tables.count(f"| {Path(MODELS[1]).name} |") >= 4  # a row per table, with +Δ against the first model
    assert str(studio["workspace"].root) not in tables  # short model names
    evals = studio["workspace"].evals
    assert (evals / "tab-a1" / "summary.json").is_file() and (evals / "tab-a3" / "items.jsonl").is_file()
    compared, _, pictures = client.predict(["tab-a1"], api_name="/eval_compare")
    assert "A1 perception" in compared and "A3" not in compared
    assert len(pictures) >= 2 and all(p["caption"].startswith("A1 perception") for p in pictures)  # slides
    archive, note = client.predict(["tab-a1", "tab-a3"], api_name="/eval_export")
    assert note.startswith("Exported 2 run(s)")
    assert client.predict([], api_name="/eval_export")[1].startswith("Choose the runs")  # a line, not an error
    with zipfile.ZipFile(archive) as exported:
        names = exported.namelist()
        assert "report.md" in names and "radar.png" in names and any(n.endswith(".csv") for n in names)
        assert sum(n.startswith("table") and n.endswith(".png") for n in names) >= 4  # each table, for a slide
        assert "A3 quality assessment" in exported.read("report.md").decode()
    for _ in range(3):  # blind votes in the Chat tab feed the arena
        client.predict(left=MODELS[0], right=MODELS[1], blind=True, image=None, text="Is this image clear?",
                       max_tokens=8, temperature=0, top_p=1, trust=False, api_key="", api_name="/chat_send")
        client.predict(api_name="/chat_vote_a")
    ratings, matrix = client.predict(False, api_name="/eval_arena")
    # the browser's blind vote on the Chat tab's default models may be in the same log
    assert set(MODELS) <= {row[0] for row in ratings["data"]} and "Votes per pair" in matrix
    assert "both bad" in ratings["headers"] and "arena vs A3" in matrix  # tab-a3 holds both models


def test_the_same_evaluation_continues_and_another_is_refused(client, studio):
    questions = "demo/world/eval/llvisionqa.json"
    start_evaluation(client, "again", MODELS, ["A1"], questions, limit=4)
    evaluations_done(client, ["again-a1"])
    status = start_evaluation(client, "again", MODELS, ["A1"], questions, limit=4)  # the same: recomputed from its
    # 16 items (4 questions x 2 models x 2 protocols), none scored again
    assert "again-a1 resumes: it continues after the 16 items already done" in status
    evaluations_done(client, ["again-a1"])
    root = studio["workspace"].root  # another questions file under the same run name: refused, not mixed up
    (root / "demo/world/eval/other.json").write_text((root / questions).read_text())
    tab_says(start_evaluation(client, "again", MODELS, ["A1"], "demo/world/eval/other.json", limit=4),
             r"again-a1 was started with another config \(questions: ")


def test_bad_choices_are_messages(client):
    tab_says(start_evaluation(client, "x", MODELS, ["A1"], "/etc/passwd", limit=2),
             "outside the folders this studio may read")
    tab_says(start_evaluation(client, "x", [], ["A1"], limit=2), "choose at least one model")


def test_tables_and_radar_in_the_browser(client, studio, artifacts):
    with chromium_page(1280, 720) as page:  # a projector's size
        page.goto(studio["url"])
        page.get_by_role("tab", name="Evaluate").click()
        page.get_by_role("button", name="The shipped micro demo models").click()
        shipped = page.locator(f"#{tab.SHIPPED_TABLES_ID}")
        header = shipped.get_by_role("columnheader", name="Yes-or-No").first
        header.wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "evaluate_shipped_1280x720.png"))
        assert header.bounding_box()["width"] > 100  # full width: "Yes-or-No" on one line, not a letter per line
        value = shipped.get_by_role("cell", name="0.619 (+0.254)").first
        assert value.bounding_box()["height"] < 45  # a number with its +Δ on one line
        last = shipped.locator("table").first.locator("th").last.bounding_box()  # A3 PLCC: the 11th column
        assert last["x"] + last["width"] <= 1280  # the widest table within the projector's width, no scrolling
        shipped.locator("table").first.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "evaluate_shipped_table_1280x720.png"))
        headings = shipped.locator("h3").all_inner_texts()
        a1 = [h for h in headings if h.startswith("A1")]
        assert a1[0] == "A1 perception, likelihood over the option's tokens"  # the one that separates the models
        page.locator(f"#{tab.SHIPPED_RADAR_ID} img").first.wait_for(timeout=30_000)  # drawn from the figures
        page.locator(f"#{tab.STATUS_ID}").wait_for()
        page.get_by_text("Options of every protocol").click()  # the shared options, folded
        page.locator("#form-limit input").fill("6")
        page.get_by_role("button", name="Evaluate", exact=True).click()
        page.locator(f"#{tab.STATUS_ID}").get_by_text("Done:").wait_for(timeout=180_000)
        page.locator(f"#{tab.TABLES_ID} table").first.wait_for()
        page.locator(f"#{tab.TABLES_ID}").get_by_text("Small sample: N = 6").first.wait_for()  # flagged
        cell = page.locator(f"#{tab.TABLES_ID}").get_by_role("columnheader", name="Distortion").first
        assert cell.bounding_box()["width"] > 90  # full width at 1280 px: no "Distortio-n"
        pictures = page.locator(f"#{tab.TABLE_IMAGES_ID} img")  # each table as a picture, for a slide
        pictures.first.wait_for(timeout=30_000)
        assert pictures.count() >= 2
        how = page.locator(f"#{tab.TABLES_ID}").get_by_role("columnheader", name="How", exact=True).first
        lines = how.evaluate("cell => { const r = document.createRange(); r.selectNodeContents(cell); "
                             "return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size }")
        assert lines == 1  # "How" on one line, not "Ho / w"
        page.locator(f"#{tab.TABLE_IMAGES_ID}").scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        page.locator(f"#{tab.TABLE_IMAGES_ID}").screenshot(path=str(artifacts / "evaluate_table_pictures.png"))
        page.wait_for_timeout(1000)
        page.screenshot(path=str(artifacts / "evaluate_tab.png"), full_page=True)


def test_evaluations_outlive_the_page_and_a_new_page_sees_them(studio, monkeypatch):
    monkeypatch.setenv("QINSTRUCT_THROTTLE_S", "0.3")  # long enough to be seen in progress

    def activity():  # what a freshly loaded page shows (an unchanged line comes back as an empty update)
        shown = Client(studio["url"], verbose=False).predict(api_name="/eval_activity")
        return "" if isinstance(shown, dict) else shown

    asker = Client(studio["url"], verbose=False)
    start_evaluation(asker, "outlive", MODELS, ["A1", "A3"], limit=40)
    del asker  # the page that asked is gone
    deadline, seen = time.time() + 120, ""
    while "outlive-a1**: running" not in seen and time.time() < deadline:
        seen = activity()
        time.sleep(0.2)
    assert "**outlive-a1**: running" in seen and "**outlive-a3**" in seen
    tab_says(start_evaluation(Client(studio["url"], verbose=False), "outlive", MODELS, ["A1"], limit=40),
             "already running")
    monkeypatch.delenv("QINSTRUCT_THROTTLE_S")
    evals = studio["workspace"].evals
    deadline = time.time() + 300
    while not (evals / "outlive-a3" / "summary.json").is_file() and time.time() < deadline:
        time.sleep(0.5)
    summary = json.loads((evals / "outlive-a3" / "summary.json").read_text())  # it ran all the same
    assert summary["models"] and all(result["demo"]["n"] == 40 for result in summary["models"].values())
    while activity() and time.time() < deadline:
        time.sleep(0.5)
    assert activity() == ""  # nothing in progress any more


def test_stop_asks_and_stops_what_this_page_started(studio, monkeypatch):
    monkeypatch.setenv("QINSTRUCT_THROTTLE_S", "0.5")
    page = Client(studio["url"], verbose=False)
    start_evaluation(page, "stopped", MODELS, ["A3"], limit=40)
    assert page.predict("", api_name="/eval_stop") == "Not stopped."
    assert Client(studio["url"], verbose=False).predict("yes", api_name="/eval_stop") == \
        "Nothing of yours is running here."  # another page started nothing
    assert "stopped-a3 aborted" in page.predict("yes", api_name="/eval_stop")
    status, _ = page.predict(["stopped-a3"], api_name="/eval_watch")
    assert "stopped-a3**: aborted" in status


def fonts_of(page, selector: str) -> set[str]:
    """The fonts Chromium drew an element's text with (a fallback font shows up as a system family)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return {font["familyName"] for font in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]}


def test_the_shipped_report_carries_no_developers_trace_and_has_its_pictures(studio, artifacts):
    """At 1280 x 720: the shipped report names no temporary folder and no "this invocation", says of every clause
    of the ordering whether it holds, offers each table as a picture for a slide, and its headings are drawn in
    the page's font (the heading "A1 …" took its "A" from DejaVu Sans)."""
    with chromium_page(1280, 720) as page:
        page.goto(studio["url"])
        page.get_by_role("tab", name="Evaluate").click()
        page.get_by_role("button", name="The shipped micro demo models").click()
        shipped = page.locator(f"#{tab.SHIPPED_TABLES_ID}")
        shipped.locator("h3").first.wait_for(timeout=30_000)
        text = shipped.inner_text()
        assert "/tmp" not in text and "this invocation" not in text and "--out reproduction" in text
        ordering = next(line for line in text.splitlines() if line.startswith("Ordering"))
        clauses = ordering.split("does not hold (")[1].split(")")[0].split("; ")
        assert len(clauses) == 5 and all(c.endswith((" holds", " fails")) for c in clauses)
        for selector in (f"#{tab.SHIPPED_TABLES_ID} h1", f"#{tab.SHIPPED_TABLES_ID} h3", "button.lg"):
            assert "DejaVu Sans" not in fonts_of(page, selector), selector
        pictures = page.locator(f"#{tab.SHIPPED_PICTURES_ID} img")
        pictures.first.wait_for(timeout=30_000)
        assert pictures.count() == 6  # the strategies, three A1 tables, A2 and A3
        page.locator(f"#{tab.SHIPPED_PICTURES_ID}").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "evaluate_shipped_pictures_1280x720.png"))
