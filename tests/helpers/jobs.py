"""Waiting for a studio's job through the tab's own watch route, as the page's timer does."""
from __future__ import annotations

import time

ENDED = (": done", ": failed", ": aborted", ": interrupted")


def watch_until_ended(client, api_name: str, *args, timeout: float = 600) -> str:
    """The watch route's text once the job has ended (it names the state after the run's name)."""
    deadline = time.time() + timeout
    shown = ""
    while time.time() < deadline:
        shown = client.predict(*args, api_name=api_name)
        if any(state in shown for state in ENDED):
            return shown
        time.sleep(0.3)
    raise TimeoutError(f"{api_name}{args}: {shown}")


def evaluations_done(client, runs: list[str], timeout: float = 600) -> tuple[str, str]:
    """The Evaluate tab's status and tables for these runs once they have all ended."""
    deadline = time.time() + timeout
    status = ""
    while time.time() < deadline:
        status, tables = client.predict(runs, api_name="/eval_watch")
        if status.startswith("Done"):
            return status, tables
        time.sleep(0.5)
    raise TimeoutError(status)
