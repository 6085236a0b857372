"""The Chat tab: two concurrent sessions through gradio_client, votes in the log, and a browser session."""
import json
import threading
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from app.tabs import chat as tab

from ..helpers.studio import tab_says
from .browser import chromium_page


def said(chatbot, role):
    """Texts of one role in a Chatbot value (content is a string or a list of {"type": "text", "text"})."""
    out = []
    for message in chatbot["value"]:
        if message["role"] == role:
            content = message["content"]
            out.append(content if isinstance(content, str) else "".join(p.get("text", "") for p in content))
    return out


def open_chat(page, studio) -> None:
    page.goto(studio["url"])
    page.get_by_role("tab", name="Chat").click()


def pick_photo(page, name: str) -> None:
    """A demo photograph from the dropdown under the image box."""
    page.locator(f"#{tab.PHOTO_ID} input").click()
    page.get_by_role("option", name=name).click()


TINY_PAIR = {"left": "models/tiny-llava", "right": "models/tiny-llava-lora"}  # one base model serves both sides


def ask(client, question, image, results, key):
    """A turn on the tiny LLaVA and its LoRA, not the shipped defaults."""
    answer = client.predict(**TINY_PAIR, image=handle_file(image), text=question, max_tokens=24, api_key="",
                            api_name="/chat_send")
    results[key] = answer


def test_two_sessions_do_not_see_each_other(studio, shared_data):
    first, second = Client(studio["url"], verbose=False), Client(studio["url"], verbose=False)
    results = {}
    threads = [threading.Thread(target=ask, args=(first, "Is this image clear?",
                                                  str(shared_data / "images/211.jpg"), results, "first")),
               threading.Thread(target=ask, args=(second, "Describe and evaluate the quality of the image.",
                                                  str(shared_data / "images/sausage.jpg"), results, "second"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    (a1, b1, prompt1, status1, id1), (a2, _, _, _, id2) = results["first"], results["second"]
    assert len(id1) == 32 and id1 != id2  # each browser session resumes its own conversation
    assert said(a1, "user") == ["Is this image clear?"]
    assert said(a2, "user") == ["Describe and evaluate the quality of the image."]
    assert said(a1, "assistant") != said(b1, "assistant")  # baseline and tuned answer differently
    assert prompt1 == "" and "one base model serves both sides" in status1
    assert "baseline: " in status1 and "tok/s" in status1  # the turn's speed per side
    # a follow-up continues the first session only
    a3, _, _, _, _ = first.predict(**TINY_PAIR, image=handle_file(str(shared_data / "images/211.jpg")), text="Why?",
                                   max_tokens=16, api_key="", api_name="/chat_send")
    assert said(a3, "user") == ["Is this image clear?", "Why?"]
    again_a, _, _ = first.predict(image=handle_file(str(shared_data / "images/211.jpg")), max_tokens=16, api_key="",
                                  api_name="/chat_regenerate")
    assert said(again_a, "user") == ["Is this image clear?", "Why?"]  # the last answer replaced, not appended
    assert said(again_a, "assistant") == said(a3, "assistant")  # greedy: the same answer again
    rating_a, rating_b = first.predict(**TINY_PAIR, image=handle_file(str(shared_data / "images/211.jpg")),
                                       api_key="", api_name="/chat_rate")
    assert "P(good)" in rating_a and "Q-Align" in rating_b
    result = first.predict(api_name="/chat_vote_a")
    assert "Vote recorded" in result and "A was" in result
    log = [json.loads(line) for line in (studio["workspace"].root / "chat" / "log.jsonl").read_text().splitlines()]
    votes = [r for r in log if r["type"] == "vote"]
    assert votes[-1]["vote"] == "A is better" and len(votes[-1]["turns"][0]) == 2
    assert {r["session"] for r in log if r["type"] == "turn"} >= {votes[-1]["session"]}
    assert all(r["timing"]["seconds"][0] > 0 for r in log if r["type"] == "turn")


def test_the_tab_opens_on_the_shipped_micro_models_and_they_differ_on_blur(studio):
    """A newcomer's two clicks: a held-out blurred demo image, then "Is this image blurry?"."""
    client = Client(studio["url"], verbose=False)
    examples = (studio["workspace"].root / "demo" / "examples").glob("*defocus_blur-s5.png")
    photo = next(p for p in examples if not p.name.startswith("scene"))  # written when the tab is built
    left, right, _, status, _ = client.predict(image=handle_file(str(photo)), text="Is this image blurry?",
                                               max_tokens=8, temperature=0, api_key="", api_name="/chat_send")
    assert "micro baseline" in status and "micro mix" in status  # the shipped models, labelled
    assert [answer.strip(" .") for answer in said(right, "assistant")] == ["Yes"]  # the tuned model sees the blur
    assert said(left, "assistant") != said(right, "assistant")


def test_vote_without_conversation_is_a_message(studio):
    client = Client(studio["url"], verbose=False)
    tab_says(client.predict(api_name="/chat_vote_tie"), "Ask something before voting")


def test_a_question_that_fails_is_one_line_and_the_conversation_stays(studio, artifacts):
    """Send with nothing typed after a voted answer: one ⚠ line under the chat, the conversation as it was, no
    Error toast, and the vote buttons stay locked (the answer has its vote; an error is no new answer)."""
    expect = pytest.importorskip("playwright.sync_api").expect
    with chromium_page(1280, 720) as page:
        open_chat(page, studio)
        pick_photo(page, "coffee")
        page.locator(f"#{tab.PROMPT_ID} textarea").fill("Is this image clear?")
        page.locator(f"#{tab.SEND_ID}").click()
        expect(page.locator(f"#{tab.VOTE_IDS[2]}")).to_be_enabled(timeout=60_000)
        page.locator(f"#{tab.VOTE_IDS[2]}").click()
        page.locator(f"#{tab.VOTE_RESULT_ID}").get_by_text("Vote recorded").wait_for(timeout=30_000)
        page.locator(f"#{tab.SEND_ID}").click()  # the prompt box is empty now
        page.locator(f"#{tab.STATUS_ID}").get_by_text("⚠ type a question first").wait_for(timeout=30_000)
        assert page.locator(f"#{tab.LEFT_ID}").get_by_text("Is this image clear?").count() == 1
        for vote_id in tab.VOTE_IDS:
            expect(page.locator(f"#{vote_id}")).to_be_disabled()
        assert page.locator(".toast-body").count() == 0
        page.screenshot(path=str(artifacts / "chat_error_line.png"))


def test_blind_chat_in_the_browser(studio, artifacts, shared_data):
    """FastChat's arena complaints as a checklist: nothing tells the sides apart before the vote, one vote per answer
    (the buttons lock), the next question is a new round under a new order; then a reload restores it."""
    expect = pytest.importorskip("playwright.sync_api").expect
    with chromium_page(1280, 720) as page:  # a projector's size
        open_chat(page, studio)
        assert page.locator(f"#{tab.NOTE_ID}").is_visible()  # the note names the models when not blind
        pick_photo(page, "chelsea")
        page.get_by_text("Blind mode (sides shuffled").click()
        expect(page.locator(f"#{tab.NOTE_ID}")).to_be_hidden()
        assert page.get_by_text("Baseline (left)").count() == 0 and page.get_by_text("Model 1").count() == 1
        for vote_id in tab.VOTE_IDS:
            expect(page.locator(f"#{vote_id}")).to_be_disabled()  # nothing to vote on yet
        page.locator(f"#{tab.PROMPT_ID} textarea").fill("Is this image clear?")
        page.locator(f"#{tab.SEND_ID}").click()
        page.locator(f"#{tab.STATUS_ID}").get_by_text("answered in").wait_for(timeout=60_000)
        assert "tok/s" not in page.locator(f"#{tab.STATUS_ID}").inner_text()  # blind: no per-side speed
        assert "micro" not in page.locator(f"#{tab.TAB_ID}").inner_text()  # no model name on the tab before the vote
        assert not page.locator(f"#{tab.SEEN_ID}").is_visible()  # what each saw would tell them apart
        page.locator(f"#{tab.RATE_ID}").click()
        page.locator(f"#{tab.RATING_IDS[0]}").get_by_text("after your vote").wait_for(timeout=30_000)
        expect(page.locator(f"#{tab.VOTE_IDS[1]}")).to_be_enabled(timeout=30_000)
        page.screenshot(path=str(artifacts / "chat_blind_before_vote.png"))
        page.locator(f"#{tab.VOTE_IDS[1]}").click()
        result = page.locator(f"#{tab.VOTE_RESULT_ID}")
        result.get_by_text("A was").wait_for(timeout=30_000)
        assert result.locator("strong").inner_text() == "Vote recorded: B is better."  # bold as a whole
        for vote_id in tab.VOTE_IDS:
            expect(page.locator(f"#{vote_id}")).to_be_disabled()  # one vote per answer
        page.locator(f"#{tab.RATE_ID}").click()
        page.locator(f"#{tab.RATING_IDS[0]}").get_by_text("P(good)").wait_for(timeout=60_000)
        assert "mean of 9 tiles" in page.locator(f"#{tab.RATING_IDS[0]}").inner_text()  # a photograph: its tiles
        page.get_by_text("A sees 64×64 px tiles of this 451×300 px image").wait_for(timeout=30_000)  # after the vote: what each saw
        page.screenshot(path=str(artifacts / "chat_blind_after_vote.png"))
        page.locator(f"#{tab.PROMPT_ID} textarea").fill("Is there noise in this image?")
        page.locator(f"#{tab.SEND_ID}").click()
        expect(page.locator(f"#{tab.VOTE_IDS[0]}")).to_be_enabled(timeout=60_000)
        left = page.locator(f"#{tab.LEFT_ID}")
        left.get_by_text("Is there noise in this image?").wait_for(timeout=30_000)
        assert left.get_by_text("Is this image clear?").count() == 0  # a new round: the revealed one is gone
        page.reload()  # the conversation, its image and the blind mode come back
        page.get_by_role("tab", name="Chat").click()
        page.locator(f"#{tab.STATUS_ID}").get_by_text("conversation restored").wait_for(timeout=30_000)
        page.locator(f"#{tab.LEFT_ID}").get_by_text("Is there noise in this image?").wait_for(timeout=30_000)
        assert page.get_by_text("Model A").first.is_visible()
        expect(page.locator(f"#{tab.VOTE_IDS[0]}")).to_be_enabled()  # its answer still waits for a vote
        expect(page.locator(f"#{tab.NOTE_ID}")).to_be_hidden()
        page.screenshot(path=str(artifacts / "chat_tab_restored.png"), full_page=True)
    log = [json.loads(line) for line in (studio["workspace"].root / "chat" / "log.jsonl").read_text().splitlines()]
    browser_votes = [r for r in log if r["type"] == "vote" and r["vote"] == "B is better" and r["blind"]]
    assert browser_votes and all(r.get("round") for r in browser_votes)


def test_a_rating_and_a_reveal_never_outlive_their_image_or_their_round(studio, artifacts):
    """At a talk's 1280 x 720: a P(good) stays under the image it rated only (another photo clears it), and a blind
    round's reveal and ratings (under the old A and B) are gone once the next round's question is sent."""
    expect = pytest.importorskip("playwright.sync_api").expect
    with chromium_page(1280, 720) as page:
        open_chat(page, studio)
        pick_photo(page, "chelsea")
        shown = page.locator(f"#{tab.IMAGE_ID} img").first
        shown.wait_for(timeout=30_000)  # the photo is in the box (a Rate before it would rate nothing)
        page.locator(f"#{tab.RATE_ID}").click()
        rating = page.locator(f"#{tab.RATING_IDS[0]}")
        rating.get_by_text("P(good)").wait_for(timeout=120_000)
        before = shown.get_attribute("src")
        pick_photo(page, "coffee")  # another image: the rating was chelsea's
        expect(page.locator(f"#{tab.IMAGE_ID} img").first).not_to_have_attribute("src", before or "", timeout=30_000)
        expect(rating).not_to_contain_text("P(good)", timeout=15_000)
        page.screenshot(path=str(artifacts / "chat_rating_cleared_on_new_image.png"))
        page.get_by_text("Blind mode (sides shuffled").click()
        for question in ("Is this image clear?", "Is there noise in this image?"):
            page.locator(f"#{tab.PROMPT_ID} textarea").fill(question)
            page.locator(f"#{tab.SEND_ID}").click()
            page.locator(f"#{tab.LEFT_ID}").get_by_text(question).wait_for(timeout=30_000)
            result = page.locator(f"#{tab.VOTE_RESULT_ID}")
            expect(result).not_to_contain_text("A was", timeout=15_000)  # the last round's reveal is gone
            expect(rating).not_to_contain_text("P(good)", timeout=15_000)  # and its ratings under the old order
            expect(page.locator(f"#{tab.VOTE_IDS[0]}")).to_be_enabled(timeout=60_000)
            page.locator(f"#{tab.VOTE_IDS[0]}").click()
            result.get_by_text("A was").wait_for(timeout=30_000)
            page.locator(f"#{tab.RATE_ID}").click()
            rating.get_by_text("P(good)").wait_for(timeout=120_000)
            page.screenshot(path=str(artifacts / "chat_blind_round_revealed.png"))


def test_a_question_typed_while_an_answer_streams_is_never_lost(studio, artifacts):
    """At 1280 x 720: while an answer streams the question box and Send are closed (a question typed then used to
    vanish when the answer ended, unsent); they open again when it ends, and the next question is a second turn."""
    expect = pytest.importorskip("playwright.sync_api").expect
    with chromium_page(1280, 720) as page:
        open_chat(page, studio)
        pick_photo(page, "rocket")
        box, send = page.locator(f"#{tab.PROMPT_ID} textarea"), page.locator(f"#{tab.SEND_ID}")
        box.fill("Is this image blurry?")
        send.click()
        expect(box).to_be_disabled(timeout=5_000)
        expect(send).to_be_disabled()
        assert box.get_attribute("placeholder") == tab.WAIT  # it says why, and until when
        page.screenshot(path=str(artifacts / "chat_question_box_while_answering.png"))
        expect(box).to_be_enabled(timeout=90_000)  # the answer has ended
        assert "streaming" not in page.locator(f"#{tab.STATUS_ID}").inner_text()
        box.fill("Is there noise in this image?")
        box.press("Enter")  # the other way to send
        left = page.locator(f"#{tab.LEFT_ID}")
        left.get_by_text("Is there noise in this image?").wait_for(timeout=30_000)
        assert left.get_by_text("Is this image blurry?").count() == 1  # two turns of one conversation
        expect(box).to_be_enabled(timeout=60_000)


OWL2_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "owl2_original"


def owl2_on_the_left(page, studio) -> None:
    """The Chat tab with the mPLUG-Owl2 fixture (a release's layout) in the workspace as the left model, on the
    chelsea demo photo; the right side stays the shipped micro tuned model."""
    import shutil

    shutil.copytree(OWL2_FIXTURE, studio["workspace"].models / "mplug-owl2-original", dirs_exist_ok=True)
    open_chat(page, studio)
    page.get_by_text("Models and decoding").click()
    left = page.get_by_label("Baseline (left)")
    left.fill("models/mplug-owl2-original")
    left.press("Enter")
    pick_photo(page, "chelsea")


def test_an_original_mplug_owl2_checkpoint_beside_the_tuned_micro_model_in_the_browser(studio, artifacts):
    """A released mPLUG-Owl2 folder (original layout; here the tiny one the original code wrote) dropped into the
    workspace's models/ chats beside another model, is rated by Q-Align's prompt and shows what it sees."""
    with chromium_page(1280, 720) as page:
        owl2_on_the_left(page, studio)
        page.locator(f"#{tab.PROMPT_ID} textarea").fill("Describe the image.")
        page.locator(f"#{tab.SEND_ID}").click()
        page.locator(f"#{tab.STATUS_ID}").get_by_text("tok/s").wait_for(timeout=90_000)
        assert "mplug-owl2-original" in page.locator(f"#{tab.STATUS_ID}").inner_text()
        page.locator(f"#{tab.RATE_ID}").click()
        rating = page.locator(f"#{tab.RATING_IDS[0]}")
        rating.get_by_text("Q-Align prompt").wait_for(timeout=60_000)  # rated as Q-Align's scorer rates
        assert "P(good)" in page.locator(f"#{tab.RATING_IDS[1]}").inner_text()
        page.get_by_text("sees 56×56 px of this 451×300 px image (padded to a square first)").wait_for(
            timeout=30_000)
        page.locator(f"#{tab.LEFT_ID}").scroll_into_view_if_needed()
        # a long answer scrolls below the Chatbot's floating label, not under it (issue 20, item 6)
        label = page.locator(f"#{tab.LEFT_ID} label").first.bounding_box()
        messages = page.locator(f"#{tab.LEFT_ID} .bubble-wrap").bounding_box()
        assert messages["y"] >= label["y"] + label["height"] - 1
        page.screenshot(path=str(artifacts / "chat_owl2_beside_micro.png"), full_page=True)


def test_a_question_about_two_images_on_two_families_in_the_browser(studio, artifacts, tmp_path):
    """Co-Instruct's kind of question: the second image box, an mPLUG-Owl2 release beside a LLaVA (the shipped
    micro tuned model), both answering about both images."""
    from qinstruct.models.chat import prompt_text
    from qinstruct.models.loading import load_model
    from qinstruct.models.types import Turn
    from qinstruct.photos import demo_photo

    demo_photo("coffee", 200).save(tmp_path / "second.png")
    with chromium_page(1280, 720) as page:
        owl2_on_the_left(page, studio)
        page.get_by_text("Second image (ask about both)").click()
        page.locator(f"#{tab.SECOND_ID} input[type=file]").set_input_files(str(tmp_path / "second.png"))
        page.locator(f"#{tab.SECOND_ID} img").first.wait_for(timeout=30_000)
        page.locator(f"#{tab.PROMPT_ID} textarea").fill("Which image is sharper?")
        page.locator(f"#{tab.SEND_ID}").click()
        page.locator(f"#{tab.STATUS_ID}").get_by_text("tok/s").wait_for(timeout=90_000)
        for column in (tab.LEFT_ID, tab.RIGHT_ID):
            assert "⚠" not in page.locator(f"#{column}").inner_text()  # both families took both images
        page.locator(f"#{tab.LEFT_ID}").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "chat_two_images.png"), full_page=True)
    log = [json.loads(line) for line in (studio["workspace"].root / "chat" / "log.jsonl").read_text().splitlines()]
    turn = [r for r in log if r["type"] == "turn"][-1]
    assert turn["turns"][0][-1]["user"] == "Which image is sharper?"
    owl2 = load_model(str(OWL2_FIXTURE))
    assert prompt_text(owl2, [Turn("Which image is sharper?")], 2).count("<|image|>") == 2


def test_a_known_checkpoint_not_downloaded_is_said_beside_its_choice(studio, artifacts):
    """At 1280 x 720: the field's checkpoints are one click away (not an accordion inside an accordion), and a
    known hub id typed as a side that is not in the cache is said beside the pickers, with its fetch command,
    before any question; a shipped model chosen again clears it."""
    expect = pytest.importorskip("playwright.sync_api").expect
    with chromium_page(1280, 720) as page:
        open_chat(page, studio)
        known = page.locator(f"#{tab.KNOWN_ID}")
        expect(known).to_be_visible()  # without opening "Models and decoding"
        known.get_by_text("The field's checkpoints").click()
        expect(known.get_by_text("hf download llava-hf/llava-1.5-7b-hf").first).to_be_visible()
        page.get_by_text("Models and decoding").click()
        left = page.get_by_label("Baseline (left)")
        before = left.input_value()
        left.fill("llava-hf/llava-1.5-7b-hf")
        left.press("Enter")
        note = page.locator(f"#{tab.SIDES_NOTE_ID}")
        expect(note).to_contain_text("Baseline (left): llava-hf/llava-1.5-7b-hf (llava-v1.5-7b) is not downloaded",
                                     timeout=15_000)
        expect(note).to_contain_text("hf download llava-hf/llava-1.5-7b-hf first")
        note.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "chat_known_not_downloaded.png"))
        left.fill(before)
        left.press("Enter")
        expect(note).not_to_contain_text("not downloaded", timeout=15_000)


def test_a_question_without_an_image_and_a_bad_upload_are_one_line_each(studio, artifacts, tmp_path):
    """At 1280 x 720: a question sent with no image is refused at once in one line (the micro baseline used to
    babble "text text…" for 15 s), and a file that is no image (text named .jpg, truncated, empty, 100 MP) is
    said on upload, the box left empty, the conversation kept and no Error toast (it used to be silent until
    Send, then hide the conversation under Error badges)."""
    from ..badinputs.corpus import images

    expect = pytest.importorskip("playwright.sync_api").expect
    images(tmp_path)
    with chromium_page(1280, 720) as page:
        open_chat(page, studio)
        box, status, left = (page.locator(f"#{tab.PROMPT_ID} textarea"), page.locator(f"#{tab.STATUS_ID}"),
                             page.locator(f"#{tab.LEFT_ID}"))
        box.fill("Is this image blurry?")
        page.locator(f"#{tab.SEND_ID}").click()
        status.get_by_text("this question has no image").wait_for(timeout=30_000)
        expect(box).to_be_enabled(timeout=10_000)
        assert left.get_by_text("Is this image blurry?").count() == 0  # not asked, not logged as a turn
        page.screenshot(path=str(artifacts / "chat_question_without_image.png"))
        pick_photo(page, "rocket")
        page.locator(f"#{tab.IMAGE_ID} img").first.wait_for(timeout=30_000)
        box.fill("Is this image blurry?")
        page.locator(f"#{tab.SEND_ID}").click()
        expect(page.locator(f"#{tab.VOTE_IDS[0]}")).to_be_enabled(timeout=90_000)  # answered
        for name, reason in (("text.jpg", "not an image file"), ("truncated.jpg", "unreadable image data"),
                             ("empty.png", "empty file"), ("hundred-mp.png", "megapixels")):
            page.locator(f"#{tab.IMAGE_ID} input[type=file]").set_input_files(str(tmp_path / name))
            status.get_by_text(f"⚠ {name}: ").wait_for(timeout=30_000)
            assert reason in status.inner_text()
            expect(page.locator(f"#{tab.IMAGE_ID} img")).to_have_count(0, timeout=10_000)  # no broken picture
            assert left.get_by_text("Is this image blurry?").count() == 1  # the conversation stays
            assert page.locator(".toast-body").count() == 0
        page.screenshot(path=str(artifacts / "chat_bad_upload.png"))
        page.locator(f"#{tab.IMAGE_ID} input[type=file]").set_input_files(str(tmp_path / "one.png"))
        page.locator(f"#{tab.IMAGE_ID} img").first.wait_for(timeout=30_000)
        expect(status).not_to_contain_text("⚠", timeout=10_000)  # a good image answers the complaint


def test_a_difference_within_the_tiles_spread_is_flagged():
    """Issue 34: two P(good) 0.02 apart while one side's tiles spread ± 0.08 are noise, and the page says so."""
    from qinstruct.models.types import Rating

    def rating(p, spread=None, tiles=1):
        return Rating(p, {"good": p}, p, spread=spread, tiles=tiles)

    assert "less than the spread over the tiles (± 0.080)" in tab.within_spread((rating(0.50, 0.08, 9), rating(0.52)))
    assert tab.within_spread((rating(0.30, 0.08, 9), rating(0.52, 0.05, 9))) == ""  # 0.22 apart: a difference
    assert tab.within_spread((rating(0.50), rating(0.51))) == ""  # whole images: no spread to compare with
    assert tab.within_spread(("micro-mix: failed", rating(0.5, 0.1, 9))) == ""
