"""The tab bar: one entry per tab whichever tab is open (a component made between two tabs becomes a tab)."""
from app.tabs import corrupt

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


# the namespaces of Gradio's own interface strings: a key shown as it is ("common.upload") was never translated
I18N_KEY = r"^(common|upload_text|image|file|errors|chatbot|dataframe|dropdown|checkbox|gallery|label|number|slider|" \
           r"radio|status|blocks|login|audio|video|plot|code)\.[a-z_]+$"
UNTRANSLATED = """(pattern) => {
  const key = new RegExp(pattern), found = [];
  for (const element of document.querySelectorAll('*')) {
    for (const name of ['aria-label', 'title', 'placeholder'])
      if (key.test(element.getAttribute(name) || '')) found.push(`${element.tagName} ${name}=${element.getAttribute(name)}`);
    for (const node of element.childNodes)
      if (node.nodeType === 3 && key.test(node.textContent.trim())) found.push(`${element.tagName} text=${node.textContent.trim()}`);
  }
  return found;
}"""


def test_no_interface_string_is_left_untranslated(studio, artifacts, shared_data):
    """Every tab, every accordion opened, and a multi-file upload holding a file (its "add more" button is the one
    that said "common.upload"): no Gradio i18n key is shown as it is (issue 20)."""
    with chromium_page(1280, 720) as page:
        page.goto(studio["url"])
        page.get_by_role("tab", name="Corrupt").wait_for()
        found = {}
        for label in LABELS:
            page.get_by_role("tab", name=label, exact=True).first.click()
            page.wait_for_timeout(300)
            for fold in page.locator("button.label-wrap:not(.open)").all():
                if fold.is_visible():
                    fold.click()
            if label == "Corrupt":
                batch = page.locator("button.label-wrap", has_text="Batch: corrupt a folder")
                if "open" not in (batch.get_attribute("class") or ""):  # a fold clicked while the page still drew
                    batch.click()
                photo = sorted((shared_data / "images").glob("*.jpg"))[0]
                page.locator(f"#{corrupt.BATCH_FILES_ID} input[type=file]").set_input_files(str(photo))
                # the file list shows the name's stem and its extension apart
                page.locator(f"#{corrupt.BATCH_FILES_ID}").get_by_text(photo.stem, exact=True).wait_for(timeout=30_000)
            page.wait_for_timeout(300)
            found[label] = page.evaluate(UNTRANSLATED, I18N_KEY)
        page.screenshot(path=str(artifacts / "untranslated_scan.png"), full_page=True)
    assert not any(found.values()), found
