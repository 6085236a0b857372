"""Evaluations that outlive the page that asked for them.

Gradio stops a handler at its next `yield` once its browser page is gone (a reload, a closed laptop), so an
evaluation run inside the handler would stop between protocols.  The studio hands its evaluations to one worker
thread instead -- one at a time, so one evaluation's model is in memory at once -- and the page only watches:
a reloaded page sees the same jobs (`active`) and their results in the run folders.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from ..endpoints import COMMAND_LINE, KeyPolicy
from ..errors import UserError, first_line
from .jobs import run_any

LOG = logging.getLogger(__name__)
WAITING = ("queued", "running")


@dataclass
class EvalState:
    label: str  # "A1 demo-a1"
    state: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    error: str = ""
    summary: dict | None = None

    def line(self) -> str:
        if self.state == "running" and self.total:
            return f"{self.label}: running, {self.done} / {self.total} items"
        if self.state == "failed":
            return f"{self.label}: failed: {self.error}"
        return f"{self.label}: {self.state}"


class EvalWorker:
    """A queue of evaluation configs run in order on one daemon thread; the state of each, keyed by run folder."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._states: dict[str, EvalState] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, configs: list, key_policy: KeyPolicy = COMMAND_LINE) -> list[str]:
        """Queue the configs (refused when one of their run folders is already waiting); returns their folders."""
        with self._lock:
            busy = [c.out for c in configs if c.out in self._states and self._states[c.out].state in WAITING]
            if busy:
                raise UserError(f"{Path(busy[0]).name} is already being evaluated: wait for it, or give this "
                                "evaluation another run name")
            for config in configs:
                label = f"{type(config).__name__.removesuffix('Config')} {Path(config.out).name}"
                self._states[config.out] = EvalState(label)
                self._queue.put((config, key_policy))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="evaluations", daemon=True)
                self._thread.start()
        return [config.out for config in configs]

    def state(self, out: str) -> EvalState | None:
        return self._states.get(out)

    def active(self) -> list[EvalState]:
        """Jobs queued or running, in the order they were asked for."""
        return [state for state in list(self._states.values()) if state.state in WAITING]

    def _work(self) -> None:
        while True:
            config, key_policy = self._queue.get()
            state = self._states[config.out]
            state.state = "running"

            def progress(done: int, total: int, state=state) -> None:
                state.done, state.total = done, total
            try:
                state.summary = run_any(config, progress, key_policy)
                state.state = "done"
            except UserError as error:
                state.error, state.state = str(error), "failed"
            except Exception as error:  # noqa: BLE001 - one bad evaluation must not end the worker
                LOG.exception("evaluation %s failed", config.out)
                state.error, state.state = first_line(error), "failed"
