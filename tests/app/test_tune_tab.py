"""The Tune tab: a run started from the form trains in the background; progress, abort, resume, re-attach from
another client, Open in Chat, and a browser screenshot of the live loss curve."""
import json
import time

import pytest
from gradio_client import Client

from app.tabs import tune as tab

from .browser import chromium_page


@pytest.fixture(scope="module")
def client(studio):
    client = Client(studio["url"], verbose=False)
    assert "Demo data ready" in client.predict(api_name="/tune_prepare_demo")
    return client


def form(**changes) -> dict:
    """The tab's demo form as API arguments (field names are the parameter names)."""
    values = {"name": "api-run", "max_steps": 400, "save_steps": 20, "eval_steps": 100, **changes}
    return values


def step_of(status: str) -> int:
    return int(status.split("step ")[1].split(" ")[0].replace(",", "")) if "step " in status else 0


def watch_until(client, run: str, done, timeout: float = 600):  # generous: a loaded CI machine trains slowly
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.predict(run, api_name="/tune_watch")[0]
        if done(status):
            return status
        time.sleep(0.5)
    raise TimeoutError(f"{run}: {status}")


def test_start_abort_resume_and_reattach(client, studio):
    runs, message = client.predict(**form(), api_name="/tune_start")
    assert "api-run** started" in message and runs["value"] == "api-run"
    status = watch_until(client, "api-run", lambda s: step_of(s) >= 1 and "running" in s)
    assert "loss" in status and "tokens/s" in status
    watch_until(client, "api-run", lambda s: step_of(s) >= 45)
    assert "stopped" in client.predict("api-run", api_name="/tune_abort")
    status = watch_until(client, "api-run", lambda s: "aborted" in s or "interrupted" in s)
    stopped_at = step_of(status)
    assert stopped_at < 400
    assert "resumes" in client.predict("api-run", api_name="/tune_resume")
    other = Client(studio["url"], verbose=False)  # another page (a reload): the state comes from the run folder
    status = watch_until(other, "api-run", lambda s: ": done" in s)
    assert "step 400 / 400" in status and "eval loss" in status
    assert "step 400/400 · loss" in other.predict("api-run", api_name="/tune_watch")[2]  # the log box's lines
    steps = [json.loads(line).get("step") for line in
             (studio["workspace"].runs / "api-run" / "log.jsonl").read_text().splitlines()]
    resumed_from = max(s for s in steps[:steps.index(stopped_at) + 1] if s is not None and s % 20 == 0)
    assert steps.count(1) == 1 and resumed_from + 1 in steps[steps.index(stopped_at) + 1:]  # from a checkpoint
    chosen = other.predict("api-run", api_name="/tune_open_in_chat")  # the Chat tab's tuned side (and the tab)
    right = chosen["value"] if isinstance(chosen, dict) else chosen
    assert right == "runs/api-run/model"
    answer = other.predict(left="models/micro-baseline", right=right, blind=False, image=None,
                           text="Is this image clear?", max_tokens=8, temperature=0, top_p=1, trust=False,
                           api_key="", api_name="/chat_send")
    assert "api-run (after, lora, trained)" in answer[3]


def test_bad_form_values_are_messages(client):
    with pytest.raises(Exception, match="low_level"):
        client.predict(**form(name="bad", low_level=""), api_name="/tune_start")
    with pytest.raises(Exception, match="outside the folders this studio may read"):
        client.predict(**form(name="bad", high_level="/etc/passwd"), api_name="/tune_start")
    with pytest.raises(Exception, match="model folders must be in the workspace"):
        client.predict(**form(name="bad", model="/tmp"), api_name="/tune_start")


def test_live_loss_curve_in_the_browser(client, studio, artifacts):
    client.predict(**form(name="browser-run", max_steps=300), api_name="/tune_start")
    with chromium_page() as page:
        page.goto(studio["url"])
        page.get_by_role("tab", name="Tune").click()
        page.locator(f"#{tab.RUNS_ID} input").click()
        page.get_by_role("option", name="browser-run").click()
        page.locator(f"#{tab.STATUS_ID}").get_by_text("loss").first.wait_for(timeout=120_000)
        page.locator(f"#{tab.PLOT_ID} img, #{tab.PLOT_ID} svg, #{tab.PLOT_ID} canvas").first.wait_for(timeout=60_000)
        page.wait_for_timeout(3000)  # a few more steps on the curve
        page.screenshot(path=str(artifacts / "tune_tab.png"), full_page=True)
    watch_until(client, "browser-run", lambda s: ": done" in s)


def test_preview_shows_each_machines_command(studio):
    from app.context import AppContext
    from qinstruct.access import AccessPolicy

    ctx = AppContext.open(studio["workspace"], AccessPolicy.for_studio(studio["workspace"].root))
    from qinstruct.config.schema import field_default, job_fields

    values = {**tab.demo_values(ctx), "launcher": "accelerate", "num_processes": 8, "num_machines": 2,
              "main_process_ip": "10.0.0.1", "deepspeed": "zero3"}
    fields = {f.name: f for f in job_fields(tab.TrainConfig)}
    row = [values[n] if n in values else field_default(fields[n]) for n in tab.field_names()]
    yaml_text, shell = tab.preview(ctx, "multi", *["\n".join(v) if isinstance(v, list) else v for v in row])
    assert "launcher: accelerate" in yaml_text
    assert "machine 0:" in shell and "machine 1:" in shell and "--machine_rank 1" in shell
    assert "--use_deepspeed" in shell and "--num_processes 16" in shell
