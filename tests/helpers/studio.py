"""A studio started as a user starts it (`python -m app`, its own process), for scripts and tests that drive it
from outside, and a free loopback port."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serving(url: str) -> bool:
    """The studio answers (a login wall's 401 is an answer)."""
    try:
        with urllib.request.urlopen(url + "config", timeout=10) as response:
            return response.status == 200
    except urllib.error.HTTPError as error:
        return error.code == 401
    except OSError:
        return False


@contextlib.contextmanager
def studio_process(workspace: Path, *args: str, images: int = 60,
                   env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """A small demo world in `workspace` (so the first start is quick), then the studio on a free port."""
    from qinstruct.demo.config import WorldConfig
    from qinstruct.demo.world import build_world
    from qinstruct.workspace import world_ready

    world = workspace / "demo" / "world"
    if not world_ready(world):
        build_world(WorldConfig(out=str(world), images=images, eval_images=12, seed=0))
    port = free_port()
    log = workspace / "studio.log"  # a file, not a pipe: nobody reads a pipe, and a full one would stall the studio
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "app", "--port", str(port), "--workspace", str(workspace),
                                    *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                                   stdout=output,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    try:
        while not serving(url):
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError("the studio did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.3)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def tab_says(answer, pattern: str) -> str:
    """The one line a tab writes for a user error ("⚠ ..." in its status output, the other outputs unchanged),
    read from a gradio_client answer: fails unless the answer holds exactly one such line and it matches."""
    import re

    from app.forms import ERROR_MARK

    values = answer if isinstance(answer, (list, tuple)) else [answer]
    lines = [value for value in values if isinstance(value, str) and value.startswith(ERROR_MARK)]
    assert len(lines) == 1 and re.search(pattern, lines[0]), f"expected one ⚠ line matching {pattern!r} in {answer!r}"
    return lines[0]
