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


def start_evaluation(client, name, models, protocols, questions="demo/world/eval/llvisionqa.json",
                     mos="demo/world/eval/mos.json=demo", references="demo/world", image_root="demo/world",
                     judge="offline", limit=0, **more) -> str:
    """The Evaluate tab's button: the run name, the models and protocols, each protocol's set (its form's fields
    are PROTOCOL_FIELD), the shared options."""
    return client.predict(name=name, models=models, protocols=protocols, a1_questions=questions, a3_mos=mos,
                          a2_references=references, image_root=image_root, a2_judge=judge, limit=limit, **more,
                          api_name="/eval_run")
