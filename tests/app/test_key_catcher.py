"""The server's OPENAI_API_KEY never leaves for a URL a browser user typed, whichever entry point loads the model:
a real studio (`python -m app --auth ...`, the key in its environment), every way a logged-in user can make it
load a model, and a catcher endpoint that records what arrives.  Fails before the job system carried the
studio's policy into the jobs it launches (the Evaluate tab sent the key)."""
import json
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from ..helpers.jobs import evaluations_done, start_evaluation
from ..helpers.openai_server import chunk, completion, openai_server
from ..helpers.studio import studio_process

SECRET = "sk-server-secret-do-not-send"


def answer(body):
    if body.get("stream"):
        return [chunk("fine"), chunk("", finish="stop")]
    return completion("The quality of the image is good.")


def fake_finished_run(workspace: Path, spec: str) -> None:
    """A training run of user `a` (in a's namespace) whose "model" is an adapter on the catcher's endpoint (what
    Open in Chat opens)."""
    run = workspace / "users" / "a" / "runs" / "evil"
    (run / "model").mkdir(parents=True)
    (run / "model" / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": spec,
                                                                  "peft_type": "LORA"}))
    (run / "model" / "qinstruct.json").write_text(json.dumps({"label": "evil", "trained": True}))
    (run / "status.json").write_text(json.dumps({"kind": "train", "state": "done", "owner": "a"}))


def every_entry_point(client: Client, spec: str, workspace: Path, image: str) -> dict[str, str]:
    """Each way a user can make the studio load `spec`; what the page said each time."""
    said = {}
    said["chat"] = client.predict(left=spec, right=spec, blind=False, image=None, text="Hi", max_tokens=8,
                                  temperature=0, top_p=1, trust=False, api_key="", api_name="/chat_send")[3]
    said["rate"] = " ".join(client.predict(spec, spec, False, handle_file(image), False, "", api_name="/chat_rate"))
    client.predict(handle_file(image), ["fog"], [1], 0, 512, api_name="/corrupt_grid")
    try:
        said["corrupt score"] = str(client.predict(spec, spec, api_name="/corrupt_score"))
    except Exception as error:  # noqa: BLE001 - a refusal is an answer too; only what reached the catcher counts
        said["corrupt score"] = str(error)
    try:
        said["evaluate"] = start_evaluation(client, "catch", [spec], ["A1", "A3", "A2"], limit=2,
                                            judge=f"openai:judge@{spec.split('@', 1)[1]}")
        if "started" in said["evaluate"]:  # refused before any job started: nothing to wait for
            said["evaluate"] += evaluations_done(client, ["catch-a1", "catch-a3", "catch-a2"])[0]
    except Exception as error:  # noqa: BLE001
        said["evaluate"] = str(error)
    try:
        said["tune"] = str(client.predict(name="catch", model=spec, max_steps=2, api_name="/tune_start"))
    except Exception as error:  # noqa: BLE001
        said["tune"] = str(error)
    fake_finished_run(workspace, spec)
    chosen = client.predict("evil", api_name="/tune_open_in_chat")
    right = chosen["value"] if isinstance(chosen, dict) else chosen
    said["open in chat"] = client.predict(left="models/micro-baseline", right=right, blind=False,
                                          image=handle_file(image),  # the micro side answers about images only
                                          text="Hi", max_tokens=8, temperature=0, top_p=1, trust=False, api_key="",
                                          api_name="/chat_send")[3]
    return said


@pytest.mark.parametrize("endpoints_only", [False, True], ids=["typed URLs allowed", "--endpoints-only"])
def test_the_server_key_never_reaches_a_typed_url(tmp_path, endpoints_only):
    image = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), (120, 80, 40)).save(image)
    with openai_server(answer) as (url, requests):
        spec = f"openai:m@{url}"
        # the catcher is on loopback: without --endpoints-only, the operator lets users reach it (--allow-url), so
        # that the typed URL is called at all -- and must still never receive the server's key
        flags = ["--auth", "a:b", "--auth", "c:d"] + (["--endpoints-only"] if endpoints_only else
                                                      ["--allow-url", url.rsplit("/", 1)[0]])
        with studio_process(tmp_path / "workspace", *flags, env={"OPENAI_API_KEY": SECRET}) as (studio, _):
            said = every_entry_point(Client(studio, auth=("a", "b"), verbose=False), spec, tmp_path / "workspace",
                                     str(image))
        keys = {r["headers"].get("authorization") for r in requests}
        assert f"Bearer {SECRET}" not in keys, said
        if endpoints_only:
            assert requests == [], said  # nothing was even sent
            for entry in ("chat", "rate", "evaluate"):
                assert "reaches only the endpoints its operator configured" in said[entry], (entry, said[entry])
        else:
            assert len(requests) >= 4, said  # the entry points did call the typed URL, without the server's key
        assert "is an endpoint; training needs local weights" in said["tune"]
        assert "needs local base weights" in said["open in chat"] or (  # or refused before it got that far
            endpoints_only and "reaches only the endpoints its operator configured" in said["open in chat"])
        everything = "".join(p.read_text(errors="ignore") for p in (tmp_path / "workspace").rglob("*")
                             if p.is_file() and p.stat().st_size < 5_000_000)
        assert SECRET not in everything
