"""The Tune tab: a run started from the form trains in its own process; progress, abort, resume, re-attach from
another client, Open in Chat, and a browser screenshot of the live loss curve (with the abort's confirmation).
Runs are a few steps of the micro demo model, slowed down where a test needs one in progress: nothing here waits
on the machine's speed."""
import json
import time

import pytest
from gradio_client import Client, handle_file

from app.tabs import tune as tab

from ..helpers.studio import tab_says
from .browser import chromium_page


@pytest.fixture(scope="module")
def client(studio):
    client = Client(studio["url"], verbose=False)
    items = studio["workspace"].root / tab.demo_preset()["low_level"][0]
    if not items.is_file():
        tab_says(client.predict(**form(name="too-early"), api_name="/tune_start"),  # refused until its data exists
                 "The demo's data is not|Demo data: not prepared")
        assert "being prepared" in client.predict(api_name="/tune_prepare_demo")
    deadline = time.time() + 300
    while not items.is_file() and time.time() < deadline:
        time.sleep(0.5)
    assert "ready" in client.predict(api_name="/tune_prepare_demo")
    return client


@pytest.fixture
def slow(monkeypatch):
    monkeypatch.setenv("QINSTRUCT_THROTTLE_S", "0.5")  # read by each job process when it starts


def form(**changes) -> dict:
    """The tab's demo form as API arguments (field names are the parameter names): a few steps."""
    return {"name": "api-run", "max_steps": 8, "save_steps": 2, "eval_steps": 4, **changes}


def step_of(status: str) -> int:
    return int(status.split("step ")[1].split(" ")[0].replace(",", "")) if "step " in status else 0


def watch_until(client, run: str, done, timeout: float = 600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.predict(run, api_name="/tune_watch")[0]
        if done(status):
            return status
        time.sleep(0.3)
    raise TimeoutError(f"{run}: {status}")


def test_start_abort_resume_and_reattach(client, studio, slow, monkeypatch):
    runs, message = client.predict(**form(), api_name="/tune_start")
    assert message == "**api-run started**" and runs["value"] == "api-run"
    status = watch_until(client, "api-run", lambda s: step_of(s) >= 3 and "running" in s)
    assert "loss" in status and "tokens/s" in status
    # a second Start is refused, the run goes on
    tab_says(client.predict(**form(), api_name="/tune_start"), "already running")
    assert client.predict("", api_name="/tune_abort") == "Not aborted."  # the confirmation was declined
    stopped = client.predict("api-run", api_name="/tune_abort")
    assert stopped.startswith("api-run aborted") and "Resume continues from its checkpoint at step" in stopped
    checkpoint = int(stopped.rsplit(" ", 1)[1])
    monkeypatch.delenv("QINSTRUCT_THROTTLE_S")
    resumed = client.predict("api-run", api_name="/tune_resume")  # at once: not "already running"
    assert resumed == f"api-run resumes: it continues from its checkpoint at step {checkpoint}"
    other = Client(studio["url"], verbose=False)  # another page (a reload): the state comes from the run folder
    status = watch_until(other, "api-run", lambda s: ": done" in s)
    assert "step 8 / 8" in status and "eval loss" in status and "attempt 2" in status
    assert "step 8/8 · loss" in other.predict("api-run", api_name="/tune_watch")[2]  # the log box's lines
    log = [json.loads(line) for line in (studio["workspace"].runs / "api-run" / "log.jsonl").read_text().splitlines()]
    second = [e["step"] for e in log if e.get("attempt") == 2 and "loss" in e]
    assert second == list(range(checkpoint + 1, 9))  # continued from the checkpoint, each step once
    evals = [e["step"] for e in log if "eval_loss" in e and e.get("attempt") == 2 and "event" not in e]
    assert evals == [4, 8][-len(evals):] and evals.count(8) == 1  # the last eval loss once, not twice
    chosen = other.predict("api-run", api_name="/tune_open_in_chat")  # the Chat tab's tuned side (and the tab)
    right = chosen["value"] if isinstance(chosen, dict) else chosen
    assert right == "runs/api-run/model"
    photo = next((studio["workspace"].root / "demo" / "examples").glob("*.png"))  # micro models answer about images
    answer = other.predict(left="models/micro-baseline", right=right, blind=False, image=handle_file(str(photo)),
                           text="Is this image clear?", max_tokens=8, temperature=0, top_p=1, trust=False,
                           api_key="", api_name="/chat_send")
    assert "api-run (after, full, trained)" in answer[3]
    # a finished run is not started again by mistake
    tab_says(client.predict(**form(), api_name="/tune_start"), "is done")


def test_a_changed_config_is_refused_with_what_differs(client, studio, slow):
    client.predict(**form(name="changed", max_steps=40), api_name="/tune_start")
    watch_until(client, "changed", lambda s: step_of(s) >= 1)
    client.predict("changed", api_name="/tune_abort")
    tab_says(client.predict(**form(name="changed", max_steps=40, learning_rate=0.01), api_name="/tune_start"),
             r"changed was started with another config \(learning_rate: 0.002 -> 0.01\)")
    assert ": aborted" in client.predict("changed", api_name="/tune_watch")[0]


def test_bad_form_values_are_messages(client):
    tab_says(client.predict(**form(name="bad", low_level=""), api_name="/tune_start"), "low_level")
    tab_says(client.predict(**form(name="bad", high_level="/etc/passwd"), api_name="/tune_start"),
             "outside the folders this studio may read")
    tab_says(client.predict(**form(name="bad", model="/tmp"), api_name="/tune_start"),
             "model folders must be in the workspace")
    tab_says(client.predict(**form(name="bad", high_level="demo/world/nothing.json"), api_name="/tune_start"),
             "no such file in the workspace")
    tab_says(client.predict("../../etc", api_name="/tune_resume"), "Choose one of your runs")


def test_live_loss_curve_and_a_confirmed_abort_in_the_browser(client, studio, artifacts, slow):
    client.predict(**form(name="browser-run", max_steps=60), api_name="/tune_start")
    with chromium_page() as page:
        page.goto(studio["url"])
        page.get_by_role("tab", name="Tune").click()
        # the page re-attached to the run in progress by itself: nothing to choose
        page.locator(f"#{tab.STATUS_ID}").get_by_text("loss").first.wait_for(timeout=120_000)
        page.locator(f"#{tab.PLOT_ID} img, #{tab.PLOT_ID} svg, #{tab.PLOT_ID} canvas").first.wait_for(timeout=60_000)
        page.wait_for_timeout(3000)  # a few more steps on the curve
        page.screenshot(path=str(artifacts / "tune_tab.png"), full_page=True)
        page.once("dialog", lambda dialog: dialog.dismiss())  # Abort asks once; "no" leaves the run alone
        page.locator(f"#{tab.ABORT_ID}").click()
        page.get_by_text("Not aborted.").wait_for(timeout=30_000)
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator(f"#{tab.ABORT_ID}").click()
        page.get_by_text("browser-run aborted").first.wait_for(timeout=60_000)
    assert ": aborted" in client.predict("browser-run", api_name="/tune_watch")[0]


def test_preview_shows_each_machines_command(studio):
    from app.context import AppContext
    from qinstruct.access import AccessPolicy

    ctx = AppContext.open(studio["workspace"], AccessPolicy.for_studio(studio["workspace"].root))
    from qinstruct.config.schema import field_default, job_fields

    values = {**tab.demo_values(ctx), "launcher": "accelerate", "num_processes": 8, "num_machines": 2,
              "main_process_ip": "10.0.0.1", "deepspeed": "zero3"}
    fields = {f.name: f for f in job_fields(tab.TrainConfig)}
    row = [values[n] if n in values else field_default(fields[n]) for n in tab.field_names()]
    row = ["\n".join(v) if isinstance(v, list) else v for v in row]
    yaml_text, shell = tab.preview(ctx, "multi", None, *row)  # None: no request (the operator)
    assert "launcher: accelerate" in yaml_text
    assert "machine 0:" in shell and "machine 1:" in shell and "--machine_rank 1" in shell
    assert "--use_deepspeed" in shell and "--num_processes 16" in shell
    with pytest.raises(Exception, match="runs over several machines are the operator's"):  # a logged-in user
        tab.config_of(ctx, "multi", tuple(row), who="alice")


def test_preview_start_and_abort_sit_together_at_the_top(client, studio, artifacts):  # client: the data ready
    """At a projector's 1280 x 720, LlamaBoard's order: Preview, Start, Resume and Abort in one row in the first
    screen (Start sat at the bottom of a 2,500-px form); Preview opens the run as a command and config.yaml."""
    with chromium_page(1280, 720) as page:
        page.goto(studio["url"])
        page.get_by_role("tab", name="Tune").click()
        buttons = [page.locator(f"#{button}") for button in (tab.PREVIEW_BUTTON_ID, tab.START_ID, tab.RESUME_ID,
                                                               tab.ABORT_ID)]
        buttons[1].wait_for(timeout=30_000)
        boxes = [button.bounding_box() for button in buttons]
        assert all(box["y"] + box["height"] <= 720 for box in boxes)  # no scrolling to reach them
        assert max(box["y"] for box in boxes) - min(box["y"] for box in boxes) < 10  # one row
        assert "40 s" in page.locator(f"#{tab.INTRO_ID}").inner_text()  # the measured time, not "about a minute"
        buttons[0].click()
        page.locator(f"#{tab.PREVIEW_BOX_ID}").get_by_text("Same run from a shell").wait_for(timeout=30_000)
        assert "qinstruct train" in page.locator(f"#{tab.PREVIEW_BOX_ID}").inner_text()
        page.screenshot(path=str(artifacts / "tune_buttons_at_the_top_1280x720.png"))
