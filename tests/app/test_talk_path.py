"""The talk, replayed: what a speaker does in front of an audience, at a projector's 1280 x 720, in one pass --
Start here, a blind round in Chat on a held-out blurred image, the Corrupt grid scored by both models, and the
shipped reproduction's tables in Evaluate.  Each step's screenshot lands in tests/artifacts/talk-*.png."""
import pytest

from app.tabs import chat, corrupt, evaluate

from .browser import chromium_page


def test_the_whole_talk_path_replays_at_1280x720(studio, artifacts):
    expect = pytest.importorskip("playwright.sync_api").expect
    with chromium_page(1280, 720) as page:
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(studio["url"])
        start_here = page.get_by_text("Three things to try")
        start_here.wait_for(timeout=30_000)  # open on a first visit
        page.screenshot(path=str(artifacts / "talk-1-start-here.png"))

        page.get_by_role("tab", name="Chat").click()  # step 2 of Start here, as a blind round
        page.get_by_text("defocus_blur s5").first.click()  # a held-out image under blur
        page.locator(f"#{chat.IMAGE_ID} img").first.wait_for(timeout=30_000)
        page.get_by_text("Blind mode (sides shuffled").click()
        page.locator(f"#{chat.PROMPT_ID} textarea").fill("Is this image blurry?")
        page.locator(f"#{chat.SEND_ID}").click()
        expect(page.locator(f"#{chat.VOTE_IDS[0]}")).to_be_enabled(timeout=90_000)
        assert "micro" not in page.locator(f"#{chat.TAB_ID}").inner_text()  # nothing names the sides yet
        page.locator(f"#{chat.STATUS_ID}").scroll_into_view_if_needed()  # the answers, as the room sees them
        page.screenshot(path=str(artifacts / "talk-2-blind-round.png"))
        page.locator(f"#{chat.VOTE_IDS[1]}").click()
        page.locator(f"#{chat.VOTE_RESULT_ID}").get_by_text("A was").wait_for(timeout=30_000)
        page.locator(f"#{chat.VOTE_RESULT_ID}").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "talk-3-revealed.png"))

        page.get_by_role("tab", name="Corrupt").click()  # step 1: the grid, scored by both models
        cells = page.locator(f"#{corrupt.GALLERY_ID} button.thumbnail-item")
        cells.nth(14).wait_for(timeout=60_000)
        page.locator(f"#{corrupt.SCORE_ID}").click()
        page.locator(f"#{corrupt.SCORES_ID}").get_by_text("Original:").wait_for(timeout=240_000)
        assert "micro mix" in cells.first.inner_text()  # each caption names the models
        page.locator(f"#{corrupt.SCORES_ID}").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "talk-4-corrupt-scored.png"))

        page.get_by_role("tab", name="Evaluate").click()  # step 3: the paper's tables for the shipped models
        page.get_by_role("button", name="The shipped micro demo models").click()
        shipped = page.locator(f"#{evaluate.SHIPPED_TABLES_ID}")
        shipped.get_by_role("columnheader", name="A3 SRCC").first.wait_for(timeout=30_000)
        page.locator(f"#{evaluate.SHIPPED_RADAR_ID} img").first.wait_for(timeout=30_000)
        page.locator(f"#{evaluate.SHIPPED_PICTURES_ID} img").first.wait_for(timeout=30_000)
        shipped.locator("table").first.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "talk-5-evaluate-tables.png"))
        assert page.locator(".toast-body").count() == 0 and not errors  # no error anywhere on the way
