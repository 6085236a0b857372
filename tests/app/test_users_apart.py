"""Users apart, tried as an attacker would: two logged-in users (a and c) of one studio started as a user starts
it (`python -m app --auth a:b --auth c:d`).  Whatever c types -- a path, a model spec, a run name, a file URL --
reaches nothing of a's; a's demo data cannot be poisoned by c; no internal URL answers through the studio; c's
flood of jobs holds no process and does not make a wait behind it."""
import json
import time
import urllib.error
import urllib.request

import pytest
from fastapi.responses import JSONResponse
from gradio_client import Client, handle_file
from PIL import Image

from qinstruct.jobs.launcher import abort
from qinstruct.models.families import save_tiny_pair
from qinstruct.runs import list_runs, read_status

from ..helpers.jobs import watch_until_ended
from ..helpers.openai_server import openai_server
from ..helpers.studio import studio_process, tab_says

SECRET = "internal-secret-b7"
CHAT = {"blind": False, "image": None, "text": "Hi", "max_tokens": 4, "temperature": 0, "top_p": 1, "trust": False,
        "api_key": ""}
BATCH = {"files": None, "folder_text": "", "corruptions": ["fog"], "severities": [1], "seed": 0,
         "random_assign": False, "workers": 1}
CONVERT = {"kind": "Embedded demo world", "upload": None, "path_text": "", "backend": "offline",
           "model": "gpt-4o-mini", "base_url": "", "api_key": "", "subsets": ["yes-no"], "concurrency": 1, "limit": 2}


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    workspace = tmp_path_factory.mktemp("two-users")
    with studio_process(workspace, "--auth", "a:b", "--auth", "c:d", "--max-jobs", "1",
                        "--max-queued-per-user", "2", env={"QINSTRUCT_THROTTLE_S": "0.3"}) as (url, _):
        yield {"url": url, "root": workspace, "a": Client(url, auth=("a", "b"), verbose=False),
               "c": Client(url, auth=("c", "d"), verbose=False)}


def wait_until(check, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, f"still not so after {timeout} s"
        time.sleep(0.2)


def first(answer) -> str:
    """A route's first output (a route whose other outputs are page state answers with one value)."""
    return answer if isinstance(answer, str) else answer[0]


def browser(url: str, user: str, password: str):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    opener.open(urllib.request.Request(url + "login", data=f"username={user}&password={password}".encode(),
                                       method="POST"), timeout=10)
    return opener


def fetch(opener, url) -> tuple[int, bytes]:
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def a_has_work(studio, tmp_path_factory):
    """a's batch over an uploaded photo, a's conversion, a model in a's runs/: what c must not reach."""
    a, root = studio["a"], studio["root"]
    photo = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.new("RGB", (48, 48), (200, 30, 30)).save(photo)
    said = a.predict(**{**BATCH, "files": [handle_file(str(photo))], "name": "mine"}, api_name="/corrupt_batch")
    assert str(root) not in first(said)  # the shell line names no server path
    assert ": done" in watch_until_ended(a, "/corrupt_batch_watch", "mine")
    said = a.predict(**{**CONVERT, "name": "mine"}, api_name="/convert_run")
    said = first(said)
    assert "mine started" in said and str(root) not in said and "--out users/a/convert/mine" in said
    assert ": done" in watch_until_ended(a, "/convert_watch", "mine")
    save_tiny_pair(root / "users" / "a" / "runs" / "tuned")  # as a finished run of a's leaves its model
    theirs = root / "users" / "a"
    return {"upload": next((theirs / "uploads" / "mine").iterdir()),
            "items": theirs / "convert" / "mine" / "items.json",
            "config": theirs / "convert" / "mine" / "config.yaml", "model": theirs / "runs" / "tuned" / "tiny-llava",
            "weights": next((theirs / "runs" / "tuned" / "tiny-llava").glob("*.safetensors")),
            "batch": next((theirs / "corrupt" / "batches" / "mine").rglob("*.png"))}


def test_no_route_serves_one_users_files_to_another(studio, a_has_work):
    url = studio["url"]
    carol, alice = browser(url, "c", "d"), browser(url, "a", "b")
    for what, path in a_has_work.items():
        if path.is_dir():
            continue
        for written in (str(path), str(path).replace("/users/a/", "/users/c/../a/")):
            status, body = fetch(carol, f"{url}gradio_api/file={written}")
            assert status == 403 and SECRET.encode() not in body, (what, written)
        assert fetch(alice, f"{url}gradio_api/file={path}")[0] == 200, what  # a's own: served
    link = studio["root"] / "users" / "c" / "uploads" / "link"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(a_has_work["items"])  # a link in c's folder to a's file leads nowhere either
    assert fetch(carol, f"{url}gradio_api/file={link}")[0] == 403
    assert fetch(carol, f"{url}gradio_api/file={studio['root'] / 'demo/world/pathway.jsonl'}")[0] == 200  # shared
    assert fetch(carol, f"{url}gradio_api/file=http://127.0.0.1:9/secret")[0] == 403  # never a fetched URL
    assert fetch(carol, f"{url}gradio_api/proxy=http://127.0.0.1:9/secret")[0] == 403


def test_no_box_reaches_another_users_data_or_models(studio, a_has_work):
    c, a = studio["c"], studio["a"]
    model, items, upload = a_has_work["model"], a_has_work["items"], a_has_work["upload"]
    for spec in ("../a/runs/tuned/tiny-llava", str(model), "runs/tuned/tiny-llava"):
        shown = json.dumps(c.predict(left="tiny:llava", right=spec, **CHAT, api_name="/chat_send"))
        assert "no such model folder here" in shown, spec
    shown = json.dumps(a.predict(left="tiny:llava", right="runs/tuned/tiny-llava", **CHAT, api_name="/chat_send"))
    assert "no such model folder" not in shown and "\u26a0" not in shown  # a's own model answers a
    for paths in ("../a/convert/mine/items.json", str(items)):
        tab_says(c.predict("Files", None, paths, "", 10, 90, 20, 8, 3, api_name="/stats_load"),
                 "outside the folders this studio may read")
    for folder in ("../a/uploads/mine", str(upload.parent)):
        tab_says(c.predict(**{**BATCH, "folder_text": folder, "name": "steal"}, api_name="/corrupt_batch"),
                 "outside the folders")
    tab_says(c.predict(name="x", model="../a/runs/tuned/tiny-llava", api_name="/tune_start"),
             "no such model folder here")
    tab_says(c.predict("theirs", api_name="/tune_resume"), "Choose one of your runs")


def test_a_name_is_each_users_own(studio, a_has_work):
    c, root = studio["c"], studio["root"]
    said = c.predict(**{**CONVERT, "name": "mine"}, api_name="/convert_run")  # the same name: c's own run
    assert "mine started" in first(said)
    assert ": done" in watch_until_ended(c, "/convert_watch", "mine")
    assert read_status(root / "users" / "a" / "convert" / "mine").owner == "a"
    assert read_status(root / "users" / "c" / "convert" / "mine").owner == "c"


def test_one_users_conversion_never_feeds_anothers_demo_run(studio):
    a, c, root = studio["a"], studio["c"], studio["root"]
    said = c.predict(**{**CONVERT, "name": "demo-offline", "subsets": ["yes-no"]}, api_name="/convert_run")
    assert "demo-offline started" in first(said)
    watch_until_ended(c, "/convert_watch", "demo-offline")
    prepared = a.predict(api_name="/tune_prepare_demo")  # c's items are not a's demo data
    assert "being prepared" in prepared and "users/a/convert/demo-offline" in prepared
    assert str(root) not in prepared


def test_no_internal_url_answers_and_no_error_body_is_shown(studio):
    c = studio["c"]
    with openai_server(lambda body: JSONResponse({"error": {"message": SECRET}}, status_code=403)) as (url, seen):
        answer = c.predict(left="tiny:llava", right=f"openai:m@{url}", **CHAT, api_name="/chat_send")
        shown = json.dumps(answer)
        assert "loopback" in shown and SECRET not in shown
        answer = c.predict(kind="Embedded demo world", upload=None, path_text="", feedback_id=None,
                           pasted="Blurry. The quality is poor.", backend="openai", model="m", base_url=url,
                           api_key="", subsets=["yes-no"], api_name="/convert_preview")
        assert "loopback" in json.dumps(answer) and SECRET not in json.dumps(answer)
        assert seen == []  # not one request reached the internal service


def test_a_flood_of_jobs_holds_no_process_and_does_not_hold_others_back(studio, tmp_path):
    a, c, root = studio["a"], studio["c"], studio["root"]
    for status in list_runs(root):  # the earlier tests' jobs (a's demo data): the operator stops them, so that
        if status.live:               # the one slot is free
            abort(status.path)
    long = {**BATCH, "folder_text": "demo/world/images/pristine"}  # 60 images: it runs while the rest is tried
    photo = tmp_path / "one.png"
    Image.new("RGB", (32, 32), (10, 120, 200)).save(photo)
    batch = {**BATCH, "files": [handle_file(str(photo))]}
    assert "flood0 started" in first(c.predict(**{**long, "name": "flood0"}, api_name="/corrupt_batch"))
    flood0 = root / "users" / "c" / "corrupt" / "batches" / "flood0"
    wait_until(lambda: read_status(flood0).state == "running")  # it has its slot: only what runs is ahead of a's
    for k in (1, 2):
        assert f"flood{k} queued" in first(c.predict(**{**batch, "name": f"flood{k}"}, api_name="/corrupt_batch"))
        status = read_status(root / "users" / "c" / "corrupt" / "batches" / f"flood{k}")
        assert status.state == "queued" and status.pid is None
    tab_says(c.predict(**{**batch, "name": "flood3"}, api_name="/corrupt_batch"), r"already have 2 job\(s\) waiting")
    assert "hers queued" in first(a.predict(**{**batch, "name": "hers"}, api_name="/corrupt_batch"))
    assert "next in line" in a.predict("hers", api_name="/corrupt_batch_watch")
    c.predict("flood0", "yes", api_name="/corrupt_batch_stop")
    assert ": done" in watch_until_ended(a, "/corrupt_batch_watch", "hers")  # before c's next two
    assert read_status(root / "users" / "c" / "corrupt" / "batches" / "flood2").pid is None or \
        read_status(root / "users" / "c" / "corrupt" / "batches" / "flood2").started is None
    for k in (1, 2):
        c.predict(f"flood{k}", "yes", api_name="/corrupt_batch_stop")


def test_a_logged_in_user_guessing_anothers_password_is_throttled_however_the_name_is_spelled(studio):
    """c's own login cookie does not exempt c's guesses at a's password; a's name with a space, twice in one
    form or in a multipart body is not a name the throttle does not know."""
    url, carol = studio["url"], browser(studio["url"], "c", "d")

    def guess(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> int:
        request = urllib.request.Request(url + "login", data=body, method="POST",
                                         headers={"Content-Type": content_type})
        return fetch(carol, request)[0]

    assert guess(b"username=zz&username=a&password=x") == 400  # which name would Gradio check? refused
    assert guess(b"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\na\r\n--b--\r\n",
                 "multipart/form-data; boundary=b") == 400
    answers = [guess(f"username={name}&password=guess{k}".encode()) for k, name in enumerate(["a", "a+", "+a"] * 2)]
    assert answers[:5] == [400] * 5 and answers[5] == 429  # all six counted as a's, from c's logged-in browser
    assert guess(b"username=a&password=b") == 429  # a's right password is not even checked now


def test_a_stranger_guessing_names_locks_no_user_out_and_a_restart_forgets_nothing(tmp_path):
    def login(url, user, password, forwarded=None):
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        request = urllib.request.Request(url + "login", data=f"username={user}&password={password}".encode(),
                                         method="POST", headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=10).status
        except urllib.error.HTTPError as error:
            return error.code

    args = ("--auth", "a:b", "--auth", "c:d")
    with studio_process(tmp_path, *args) as (url, _):
        assert [login(url, f"nobody{k}", "x") for k in range(21)][-1] == 429  # names that are no user
        assert login(url, "a", "b") == 200 and login(url, "c", "d") == 200  # the users still log in
        assert [login(url, "c", f"guess{k}") for k in range(7)][-2:] == [429, 429]  # 5 checked, then waits
        assert login(url, "c", "d", forwarded="198.51.100.9") == 429  # no proxy named: the header changes nothing
    with studio_process(tmp_path, *args, "--trusted-proxy", "127.0.0.1") as (url, _):  # restarted, behind a proxy
        assert login(url, "c", "guess7") in (400, 401)  # checked: the wait since the last failure is over...
        assert login(url, "c", "d") == 429  # ...and it was the 6th: c's five before the restart are remembered
        assert [login(url, "a", f"guess{k}", forwarded="198.51.100.7") for k in range(6)][-1] == 429
        assert login(url, "a", "b", forwarded="198.51.100.7") == 429  # that client behind the proxy waits
        assert login(url, "a", "b", forwarded="198.51.100.8") == 200  # another client behind it does not
    assert '"c"' in (tmp_path / ".secrets" / "login-failures.json").read_text()
