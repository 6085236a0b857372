"""What a person does on the Corrupt tab, in real Chromium: default grid on load, click a cell, screenshot."""
import time

from app.tabs import corrupt as tab

from .browser import chromium_page


def test_default_grid_click_cell_and_screenshot(studio, artifacts):
    with chromium_page() as page:
        started = time.perf_counter()
        page.goto(studio["url"])
        cells = page.locator(f"#{tab.GALLERY_ID} button.thumbnail-item")
        cells.nth(14).wait_for(timeout=30_000)  # the 15 default cells appear without any click
        print(f"default grid visible {time.perf_counter() - started:.2f} s after navigation")
        assert cells.count() == 15
        status = page.locator(f"#{tab.STATUS_ID}").inner_text()
        assert "15 cells" in status and "512×512" in status
        cells.nth(6).click()  # zoom_blur, the 7th of the paper's list
        selected = page.locator(f"#{tab.SELECTED_ID} img")
        selected.wait_for(timeout=15_000)
        assert "zoom_blur_s3" in selected.get_attribute("src")
        assert page.locator(f"#{tab.ORIGINAL_ID} img").count() == 1
        page.get_by_text("zoom_blur · s3").first.wait_for()
        page.screenshot(path=str(artifacts / "corrupt_tab.png"), full_page=True)
        page.locator(f"#{tab.SCORE_ID}").click()  # the score column: P(good) of both micro models under each cell
        page.locator(f"#{tab.SCORES_ID}").get_by_text("Original:").wait_for(timeout=120_000)
        assert "micro mix" in page.locator(f"#{tab.GALLERY_ID}").inner_text()
        caption = page.locator(f"#{tab.GALLERY_ID} .caption-label").first  # wraps: "micro mix 0.22" whole
        assert caption.evaluate("e => getComputedStyle(e).whiteSpace") == "normal"
        page.get_by_text("Model 2 scores each cell at its input size: 64×64 px of this 512×512 px image").wait_for(timeout=30_000)
        assert page.locator(f"#{tab.SEEN_ID} img").count() >= 2  # the thumbnails themselves, shown
        page.screenshot(path=str(artifacts / "corrupt_tab_scores.png"), full_page=True)


def test_a_user_error_is_one_line_and_the_grid_stays(studio, artifacts, tmp_path):
    """No severity ticked: the status line says so (brought into view: the button is below the fold at 720 px);
    the grid on the slide stays, with no Error toast and no red badge on each output (issue 20).  A text file
    uploaded as an image is said at upload, not at the next click, and the box is left empty (issue 36)."""
    from ..badinputs.corpus import images

    images(tmp_path)
    with chromium_page(1280, 720) as page:
        page.goto(studio["url"])
        cells = page.locator(f"#{tab.GALLERY_ID} button.thumbnail-item")
        cells.nth(14).wait_for(timeout=30_000)
        page.locator(f"#{tab.SEVERITIES_ID}").get_by_label("3", exact=True).uncheck()
        page.locator(f"#{tab.RUN_ID}").click()
        line = page.locator(f"#{tab.STATUS_ID}").get_by_text("⚠")
        line.wait_for(timeout=30_000)
        assert "choose at least one severity" in line.inner_text()
        page.wait_for_function(f"() => {{ const box = document.querySelector('#{tab.STATUS_ID}')"
                               ".getBoundingClientRect(); return box.top >= 0 && box.bottom <= innerHeight; }",
                               timeout=10_000)  # pressed below the fold, the line is brought into view
        assert cells.count() == 15  # the last grid, as it was
        assert page.locator(".toast-body").count() == 0 and page.locator(".error").count() == 0
        page.screenshot(path=str(artifacts / "corrupt_error_line.png"))
        page.locator(f"#{tab.IMAGE_ID} input[type=file]").set_input_files(str(tmp_path / "page.png"))
        page.locator(f"#{tab.STATUS_ID}").get_by_text("⚠ page.png: not an image file").wait_for(timeout=30_000)
        assert page.locator(f"#{tab.IMAGE_ID} img").count() == 0 and cells.count() == 15
        assert page.locator(".toast-body").count() == 0


def test_the_score_column_names_its_models_and_view_under_a_grid_shown_whole(studio, artifacts):
    """At 1280 x 720 (issue 36): every row of the grid is on the page (a 520-px box showed 2 of 5 rows), each
    caption names the models beside their P(good), the grid says which view they scored (Chat's Rate of the same
    photograph uses another), and the score table follows the grid (it was ~1,300 px below it)."""
    with chromium_page(1280, 720) as page:
        page.goto(studio["url"])
        cells = page.locator(f"#{tab.GALLERY_ID} button.thumbnail-item")
        cells.nth(14).wait_for(timeout=30_000)
        gallery = page.locator(f"#{tab.GALLERY_ID}").bounding_box()
        last = cells.nth(14).bounding_box()  # the third row of five
        assert last["y"] + last["height"] <= gallery["y"] + gallery["height"] + 1  # no scrolling inside the grid
        page.locator(f"#{tab.SCORE_ID}").click()
        page.locator(f"#{tab.SCORES_ID}").get_by_text("Original:").wait_for(timeout=240_000)
        assert "micro baseline" in cells.first.inner_text() and "micro mix" in cells.first.inner_text()
        assert "seen whole at 64×64 px" in page.locator(f"#{tab.GALLERY_ID}").inner_text()
        table = page.locator(f"#{tab.SCORES_ID}").bounding_box()
        assert table["y"] - (gallery["y"] + gallery["height"]) < 300  # right under the grid
        page.locator(f"#{tab.SCORES_ID}").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "corrupt_scores_named_1280x720.png"))
