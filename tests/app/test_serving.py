"""Serving safety: loopback by default, auth required elsewhere, only the workspace is served."""
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
        with pytest.raises(Exception):
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
