"""The two security holes and their neighbours, tried through the running studio as a browser user would."""
import json
from pathlib import Path

import pytest
from gradio.utils import get_upload_folder
from gradio_client import Client, handle_file

from qinstruct.endpoints import NO_KEY

from ..helpers.jobs import evaluations_done, start_evaluation
from ..helpers.openai_server import chunk, openai_server
from ..helpers.studio import tab_says


@pytest.fixture(scope="module")
def client(studio):
    return Client(studio["url"], verbose=False)


def send(client, left, right, trust=False, api_key=""):
    return client.predict(left=left, right=right, blind=False, image=None, text="Hi", max_tokens=16, temperature=0,
                          top_p=1, trust=trust, api_key=api_key, api_name="/chat_send")


def streamed(body):
    return [chunk("fine"), chunk("", finish="stop")] if body.get("stream") else (500, {"error": {"message": "no"}})


def test_uploaded_code_never_runs(client, studio, tmp_path):
    marker = tmp_path / "ran"
    code = tmp_path / "evil_code.py"
    code.write_text(f"open({str(marker)!r}, 'w').write('pwned')\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "evil", "auto_map": {"AutoConfig": "evil_code.EvilConfig"}}))
    # 1. the batch upload takes image files only (Gradio refuses the others; the tab would not copy them)
    with pytest.raises(Exception, match="Invalid file type"):
        client.predict([handle_file(str(code)), handle_file(str(config))], "", ["fog"], [1], 0, False, 1, "evil",
                       api_name="/corrupt_batch")
    folder, refused = studio["workspace"].keep_uploads("evil", [str(code), str(config)])
    assert refused == ["evil_code.py", "config.json"] and not list(folder.iterdir())
    # 2. a folder outside the workspace's models/ and runs/ (Gradio's upload folder, say) is no model spec,
    #    and trust_remote_code is refused for every spec the operator did not list
    uploaded = Path(get_upload_folder()) / "security-test-evil"  # where Gradio keeps uploads
    uploaded.mkdir(parents=True, exist_ok=True)
    for source in (code, config):
        (uploaded / source.name).write_text(source.read_text())
    for spec in (str(uploaded), str(tmp_path), "../../../../" + str(uploaded)):
        chat_a, chat_b, _, status, _ = send(client, spec, "models/tiny-llava-lora", trust=True)
        assert "⚠" in status and ("model folders must be in the workspace" in status
                                  or "no such model folder" in status)
    _, _, _, status, _ = send(client, "models/tiny-llava", "models/tiny-llava-lora", trust=True)
    assert "trust_remote_code is not allowed" in status
    assert not marker.exists()


def test_keys_belong_to_one_session_and_the_server_key_stays_home(studio, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-secret")
    with openai_server(streamed) as (url, requests):
        spec = f"openai:m@{url}"
        alice, bob = Client(studio["url"], verbose=False), Client(studio["url"], verbose=False)
        send(alice, "tiny:llava", spec, api_key="sk-alice")
        send(bob, "tiny:llava", spec)
        keys = [r["headers"]["authorization"] for r in requests]
        assert keys == ["Bearer sk-alice", f"Bearer {NO_KEY}"]  # not Alice's key, not the server's
        # the Convert tab's typed base URL gets no server key either
        try:
            alice.predict(kind="Embedded demo world", pasted="Blurry. The quality is poor.", backend="openai",
                          model="m", base_url=url, api_key="", subsets=["yes-no"], api_name="/convert_preview")
        except Exception:  # noqa: BLE001 - the test server does not speak JSON schema; only the header matters
            pass
        assert requests[-1]["headers"]["authorization"] == f"Bearer {NO_KEY}"
        # nor does an A2 judge typed in the Evaluate tab (a job in its own process: the policy goes with it)
        seen = len(requests)
        start_evaluation(bob, "judged", ["tiny:llava"], ["A2"], judge=f"openai:j@{url}", limit=1)
        status = evaluations_done(bob, ["judged-a2"])[0]
        assert "not scored" in status  # the test server is no judge; only the header matters here
        assert len(requests) > seen and {r["headers"]["authorization"] for r in requests[seen:]} == {f"Bearer {NO_KEY}"}
    everything = "".join(p.read_text(errors="ignore") for p in studio["workspace"].root.rglob("*")
                         if p.is_file() and p.stat().st_size < 5_000_000)
    assert "sk-alice" not in everything and "sk-server-secret" not in everything


@pytest.mark.parametrize("api, args", [
    ("/corrupt_batch", [None, "/etc", ["fog"], [1], 0, False, 1, "etc"]),
    ("/corrupt_batch", [None, "../../../../usr/share/pixmaps", ["fog"], [1], 0, False, 1, "pix"]),
    ("/stats_load", ["Files", None, "/etc/passwd", ""]),
    ("/convert_load", ["A Q-Pathway file", None, "/etc/hostname"]),
])
def test_typed_paths_stay_in_the_workspace(client, studio, api, args):
    tab_says(client.predict(*args, api_name=api), "outside the folders this studio may read")
    assert not (studio["workspace"].batches / "etc" / "manifest.jsonl").exists()


def test_paths_inside_a_data_file_are_confined_and_tell_nothing(client, studio, tmp_path):
    """An A1 questions file in the workspace whose image paths point outside: every such item fails with the
    same words whether the file exists or not, and no outside image is read."""
    from PIL import Image

    outside = tmp_path / "server-photo.png"  # a real image the server holds, outside the workspace
    Image.new("RGB", (64, 64), (200, 10, 10)).save(outside)
    root = studio["workspace"].root
    inside = "demo/world/" + json.loads((root / "demo/world/eval/llvisionqa.json").read_text())[0]["img_path"]
    question = {"question": "Is this image clear?", "candidates": ["Yes", "No"], "correct_ans": "Yes", "type": 0,
                "concern": 0}
    paths = [str(outside), str(tmp_path / "no-such.png"), "../" * 12 + str(outside).lstrip("/"),
             "../../../../../../../../../../../../no/such.png", ".secrets/browser-state", "chat/log.jsonl", inside]
    (root / "data-files").mkdir(exist_ok=True)
    (root / "data-files" / "questions.json").write_text(json.dumps([{**question, "img_path": p} for p in paths]))
    start_evaluation(client, "confined", ["tiny:llava"], ["A1"], "data-files/questions.json", image_root=".")
    evaluations_done(client, ["confined-a1"])
    records = [json.loads(line) for line in (studio["workspace"].evals / "confined-a1" / "items.jsonl").open()]
    errors = {r["index"]: r.get("error", "") for r in records if r["protocol"] == "letter"}
    for index in range(len(paths) - 1):
        assert errors[index] == f"{paths[index]}: outside the folders this studio may read (the workspace and the " \
            "folders its operator listed); copy the data into the workspace or ask the operator to start the " \
            "studio with --allow-dir", errors[index]
    assert errors[len(paths) - 1] == ""  # the image inside the workspace was read and answered


def test_uploads_are_stored_as_what_they_are(client, studio, tmp_path):
    from PIL import Image

    disguised = tmp_path / "photo.png"
    disguised.write_text(json.dumps([{"img_path": "/etc/passwd", "gt_score": 1}]))  # a data file called .png
    png = tmp_path / "picture.jpg"  # PNG data under a JPEG name
    Image.new("RGB", (64, 64), (0, 90, 200)).save(png, format="PNG")
    status = client.predict([handle_file(str(disguised)), handle_file(str(png))], "", ["fog"], [1], 0, False, 1,
                            "sniffed", api_name="/corrupt_batch")
    assert "photo.png: not an image file (not copied)" in status
    uploads = studio["workspace"].root / "uploads" / "sniffed"
    assert sorted(p.name for p in uploads.iterdir()) == ["picture.png"]


@pytest.mark.parametrize("folder", ["chat", "chat/sessions", ".secrets", "convert/.cache", ".jobs",
                                    "demo/../chat/sessions"])
def test_private_folders_are_unreachable_from_every_path_box(client, folder):
    for api, args in (("/corrupt_batch", [None, folder, ["fog"], [1], 0, False, 1, "private"]),
                      ("/stats_load", ["Files", None, f"{folder}/log.jsonl", ""]),
                      ("/convert_load", ["A Q-Pathway file", None, f"{folder}/log.jsonl"])):
        tab_says(client.predict(*args, api_name=api), "outside the folders this studio may read")
