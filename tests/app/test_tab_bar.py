"""The tab bar: one entry per tab whichever tab is open (a component made between two tabs becomes a tab)."""
from .browser import chromium_page

LABELS = ["Corrupt", "Statistics", "Convert", "Tune", "Chat", "Evaluate"]


def test_each_tab_appears_once_after_every_click(studio, artifacts):
    with chromium_page() as page:
        page.goto(studio["url"])
        page.get_by_role("tab", name="Corrupt").wait_for()
        for label in LABELS:
            page.get_by_role("tab", name=label, exact=True).first.click()
            page.wait_for_timeout(300)
            bar = [tab.inner_text().strip() for tab in page.get_by_role("tab").all()]
            assert bar == LABELS, f"after opening {label}: {bar}"
            selected = page.get_by_role("tab", selected=True).all()
            assert [tab.inner_text().strip() for tab in selected] == [label]
        page.screenshot(path=str(artifacts / "tab_bar.png"))


def test_start_here_on_the_first_visit_and_the_demo_figures_marked_synthetic(studio, artifacts):
    from app.main import START_ID
    from app.tabs.stats import STATUS_ID

    with chromium_page(1280, 720) as page:
        page.goto(studio["url"])
        start = page.locator(f"#{START_ID}")
        start.get_by_text("Score cells").wait_for(timeout=30_000)  # open: the three things to try
        page.screenshot(path=str(artifacts / "start_here.png"))
        page.get_by_role("tab", name="Statistics").click()
        page.locator(f"#{STATUS_ID}").get_by_text("Synthetic demo data").wait_for(timeout=60_000)
        page.reload()  # the same browser again: folded
        page.get_by_role("tab", name="Corrupt").wait_for()
        page.wait_for_timeout(1500)
        assert not start.get_by_text("Score cells").is_visible()
