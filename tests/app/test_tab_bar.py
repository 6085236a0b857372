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
