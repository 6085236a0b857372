"""Serving safety: loopback by default, auth required elsewhere, only the workspace is served."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

from app.__main__ import is_loopback, main

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("host, expected", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False)])
def test_loopback_detection(host, expected):
    assert is_loopback(host) is expected


def test_non_loopback_without_auth_is_refused(capsys):
    assert main(["--host", "0.0.0.0", "--port", str(free_port())]) == 2
    assert "refusing to serve on 0.0.0.0 without --auth" in capsys.readouterr().err


def test_bad_auth_value_is_refused():
    with pytest.raises(SystemExit):
        main(["--auth", "nopassword"])


def wait_for(url: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # the server answers (maybe 401): it is up
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


def test_auth_is_enforced_and_files_outside_workspace_are_not_served(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port), "--workspace", str(tmp_path / "ws"),
         "--auth", "alice:s3cret-pass"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url)
        with pytest.raises(Exception):  # noqa: B017 - gradio_client's refusal of a login wall has no class of its own
            Client(url, verbose=False).predict("coffee", api_name="/demo_photo")
        client = Client(url, auth=("alice", "s3cret-pass"), verbose=False)
        assert Path(client.predict("coffee", api_name="/demo_photo")).is_file()
        outside = tmp_path / "secret.txt"
        outside.write_text("private")
        file_url = f"{url}gradio_api/file={outside}"
        with pytest.raises(urllib.error.HTTPError) as info:  # not logged in
            urllib.request.urlopen(file_url, timeout=5)
        assert info.value.code == 401
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        browser.open(f"{url}login", data=b"username=alice&password=s3cret-pass", timeout=5)
        with pytest.raises(urllib.error.HTTPError) as info:  # logged in, but the file is outside the workspace
            browser.open(file_url, timeout=5)
        assert info.value.code == 403
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert "s3cret-pass" not in output  # the password is never printed


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A studio with a login, in this process (so its route table can be walked)."""
    from app.main import build, launch_kwargs
    from qinstruct.workspace import Workspace

    workspace = Workspace.open(tmp_path_factory.mktemp("guarded"))
    blocks = build(workspace)
    blocks.queue()
    port = free_port()
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                  auth=[("alice", "s3cret-pass"), ("carol", "c4rol-pass")], **launch_kwargs(workspace, blocks))
    yield {"url": f"http://127.0.0.1:{port}", "blocks": blocks, "workspace": workspace}
    blocks.close()


def _fetch(url: str, method: str = "GET", opener=None, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=data,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=10) as response:
            return response.status, response.read(200_000).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(200_000).decode(errors="replace")


OPEN_WITHOUT_LOGIN = {"/login", "/login/", "/favicon.ico", "/gradio_api/startup-events"}


def test_every_route_requires_the_login(guarded):
    import re

    app, base = guarded["blocks"].server_app, guarded["url"]
    paths = set()
    for route in app.routes:
        for candidate in [route, *getattr(route, "_effective_candidates", [])]:
            path = getattr(candidate, "path", None)
            methods = getattr(candidate, "methods", None) or {"GET"}
            if path:
                paths.add((re.sub(r"\{[^}]*\}", "x", path), "POST" if "POST" in methods else "GET"))
    assert len(paths) > 40  # the whole table: API, files, uploads, queue, cancel, reset, heartbeat, monitoring...
    workspace = str(guarded["workspace"].root)
    for path, method in sorted(paths):
        if path in OPEN_WITHOUT_LOGIN or path.startswith("/login"):
            continue
        status, body = _fetch(base + path, method, data=b"{}" if method == "POST" else None)
        if path == "/":
            assert status == 200 and "<form" in body and "gradio_api_info" not in body  # the login form only
        else:
            assert status == 401, (path, method, status)
        assert workspace not in body


def test_the_page_after_login_and_file_routes_stay_in_the_workspace(guarded, tmp_path):
    base = guarded["url"]
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    assert _fetch(base + "/login", "POST", browser, b"")[0] in (400, 401, 422)  # an empty login is refused
    request = urllib.request.Request(base + "/login", data=b"username=alice&password=s3cret-pass", method="POST")
    assert browser.open(request, timeout=10).status == 200
    status, page = _fetch(base + "/", opener=browser)
    assert status == 200 and "Q-Instruct Studio" in page
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    root = guarded["workspace"].root
    for attempt in (str(secret), f"{root}/.secrets/browser-state", f"{root}/../{secret.name}", f"{root}/..%2F..%2F..%2Fetc%2Fpasswd",
                    "%2Fetc%2Fpasswd", "/etc/passwd", f"{root}/%2e%2e/%2e%2e/etc/passwd"):
        status, body = _fetch(f"{base}/gradio_api/file={attempt}", opener=browser)
        assert status in (403, 404) and "private" not in body and "root:" not in body, attempt


def test_an_odd_cookie_does_not_hide_the_login(guarded):
    base = guarded["url"]
    jar = urllib.request.HTTPCookieProcessor()
    browser = urllib.request.build_opener(jar)
    browser.open(urllib.request.Request(base + "/login", data=b"username=alice&password=s3cret-pass",
                                        method="POST"), timeout=10)
    token = next(c for c in jar.cookiejar if c.name.startswith("access-token-unsecure"))
    odd = f'prefs={{"theme": "dark mode"}}; {token.name}={token.value}'  # JSON and a space in another cookie
    request = urllib.request.Request(base + "/config", headers={"Cookie": odd})
    assert urllib.request.urlopen(request, timeout=10).status == 200


def test_the_throttle_doubles_the_wait_per_user_and_address():
    from app.serving import LoginThrottle

    throttle = LoginThrottle(free_per_user=3, free_per_address=5, longest_s=60)
    for k in range(3):
        assert throttle.wait_s("carol", "10.0.0.1", now=k) == 0
        throttle.record("carol", "10.0.0.1", succeeded=False, now=k)
    assert throttle.wait_s("carol", "10.0.0.1", now=2) == 2  # the 4th attempt waits 2 s after the 3rd failure
    assert throttle.wait_s("carol", "10.0.0.2", now=2) == 0  # another address is another count
    assert throttle.wait_s("alice", "10.0.0.1", now=2) == 0  # so is another user
    throttle.record("carol", "10.0.0.1", succeeded=False, now=4)
    assert throttle.wait_s("carol", "10.0.0.1", now=4) == 4  # doubling
    for k in range(5):  # five names that are no user, from one address
        throttle.record(f"guess{k}", "10.0.0.1", succeeded=False, now=5, known=False)
    assert throttle.wait_s("dave", "10.0.0.1", now=5, known=False) == 2  # unknown names from there now wait
    assert throttle.wait_s("alice", "10.0.0.1", now=5) == 0  # the users of that address do not
    throttle.record("carol", "10.0.0.1", succeeded=True, now=100)
    assert throttle.wait_s("carol", "10.0.0.1", now=100) == 0


def test_the_counts_outlive_a_restart(tmp_path):
    from app.serving import LoginThrottle

    path = tmp_path / ".secrets" / "login-failures.json"
    first = LoginThrottle(free_per_user=2, longest_s=60, path=path)
    for k in range(3):
        first.record("carol", "10.0.0.1", succeeded=False, now=k)
    again = LoginThrottle(free_per_user=2, longest_s=60, path=path)  # a new process reads the same file
    assert again.wait_s("carol", "10.0.0.1", now=2) == first.wait_s("carol", "10.0.0.1", now=2) == 4
    path.write_text("{not json")
    assert LoginThrottle(path=path).wait_s("carol", "10.0.0.1") == 0  # a damaged file starts afresh, no crash


def test_x_forwarded_for_counts_only_behind_a_named_proxy():
    from app.serving import client_address, proxy_networks

    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.9, 10.0.0.2")]}
    assert client_address(scope) == "127.0.0.1"  # no proxy named: the header is anyone's to write
    assert client_address(scope, proxy_networks(["127.0.0.1"])) == "10.0.0.2"  # the nearest hop
    assert client_address(scope, proxy_networks(["127.0.0.1", "10.0.0.0/8"])) == "203.0.113.9"
    with pytest.raises(ValueError, match="--trusted-proxy nope"):
        proxy_networks(["nope"])


def test_thirty_wrong_passwords_then_the_right_one_is_not_checked(guarded):
    """Run last in this module: it locks its address out of the guarded studio."""
    base = guarded["url"]
    def login(password: str) -> int:
        request = urllib.request.Request(base + "/login", data=f"username=carol&password={password}".encode(),
                                         method="POST")
        try:
            return urllib.request.urlopen(request, timeout=10).status
        except urllib.error.HTTPError as error:
            return error.code

    answers = [login(f"guess{k}") for k in range(30)]
    assert set(answers[:5]) <= {400, 401} and answers[-1] == 429  # refused, then not even checked
    request = urllib.request.Request(base + "/login", data=b"username=carol&password=c4rol-pass", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 429 and "Too many failed logins" in refused.value.read().decode()
    assert answers.count(429) >= 24 and int(refused.value.headers["Retry-After"]) >= 1  # 6 of 30 were checked


def test_no_run_history_is_kept(guarded):
    """Gradio 6 records every call's inputs in the browser (a typed API key among them) unless told not to."""
    base = guarded["url"]
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    browser.open(urllib.request.Request(base + "/login", data=b"username=alice&password=s3cret-pass",
                                        method="POST"), timeout=10)
    with browser.open(base + "/config", timeout=10) as response:  # the whole page configuration
        assert json.loads(response.read())["run_history"] is False
    assert _fetch(base + "/gradio_api/runs", opener=browser)[0] == 404
