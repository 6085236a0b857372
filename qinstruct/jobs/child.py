"""The job's side of the launcher: a process started as `qinstruct VERB --config RUN/config.yaml` with
QINSTRUCT_JOB in its environment waits for a free slot (in the order the jobs were started), turns SIGTERM into
an abort, runs the verb, and makes sure its run never stays `queued` once it has ended.

Slots are files under the workspace's `.jobs/` folder, each held with flock by the job running in it: a killed
job frees its slot with its last breath, with nobody to clean up after it.  Waiting jobs line up by ticket (the
launcher's start time) through one file each under `.jobs/queue/`, so a later job never overtakes an earlier one.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from pathlib import Path
from typing import Callable, IO

from ..errors import first_line
from ..runs import RunBusy, read_status, record_process, transition
from .process import process_identity

JOB_ENV = "QINSTRUCT_JOB"  # JSON: {"run": RUN, "slots": DIR, "limit": N, "ticket": T}
POLL_S = 0.2
_held: list[IO] = []  # this process's slot, held until it exits


def job_context() -> dict | None:
    """The launch this process is (None: started from a shell).  Taken out of the environment, so that the
    job's own worker processes (accelerate's) do not take it for theirs."""
    text = os.environ.pop(JOB_ENV, None)
    if not text:
        return None
    try:
        context = json.loads(text)
        return {"run": Path(context["run"]), "slots": Path(context["slots"]), "limit": max(1, int(context["limit"])),
                "ticket": int(context["ticket"])}
    except (ValueError, KeyError, TypeError):
        return None


def _stop(signum, frame):
    raise KeyboardInterrupt("aborted")


def _queue_entries(queue: Path) -> list[tuple[int, int, Path]]:
    """(ticket, pid, file) of every job still waiting, in order; the files of waiters that died are removed."""
    entries = []
    for path in queue.glob("*-*"):
        try:
            ticket, pid = (int(part) for part in path.name.split("-", 1))
        except ValueError:
            continue
        if process_identity(pid) is None:
            path.unlink(missing_ok=True)
            continue
        entries.append((ticket, pid, path))
    return sorted(entries)


def queue_entry(slots: Path, ticket: int, pid: int) -> Path:
    """A waiting job's place in line.  The launcher makes it as it starts the process, so a job that is slow to
    start (a training imports more) keeps its place; the job makes it too, in case."""
    queue = slots / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    entry = queue / f"{ticket:020d}-{pid}"
    entry.touch()
    return entry


def wait_for_slot(slots: Path, limit: int, ticket: int) -> None:
    """Block until this job is first in line and a slot is free; the slot stays held until the process ends."""
    queue = slots / "queue"
    mine = queue_entry(slots, ticket, os.getpid())
    try:
        while True:
            entries = _queue_entries(queue)
            if entries and entries[0][2] == mine:
                for index in range(limit):
                    handle = (slots / f"slot-{index}.lock").open("a")
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        handle.close()
                        continue
                    _held.append(handle)
                    return
            time.sleep(POLL_S)
    finally:
        mine.unlink(missing_ok=True)


def running_jobs(slots: Path, limit: int) -> int:
    """How many slots are held now (jobs running under the launcher)."""
    held = 0
    for index in range(limit):
        path = slots / f"slot-{index}.lock"
        if not path.exists():
            continue
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
            except BlockingIOError:
                held += 1
    return held


def queue_position(slots: Path, ticket: int | None) -> int | None:
    """How many waiting jobs are ahead of the one with this ticket (None: it is not waiting)."""
    entries = _queue_entries(slots / "queue")
    tickets = [t for t, _, _ in entries]
    return tickets.index(ticket) if ticket in tickets else None


def _settle(folder: Path, state: str, error: str) -> None:
    """The run ended before (or without) running: it must not stay queued.  Only this process's own run."""
    status = read_status(folder)
    if status is not None and status.state == "queued" and status.pid == os.getpid():
        try:
            transition(folder, state, expect_pid=os.getpid(), ended=time.strftime("%Y-%m-%dT%H:%M:%S"), error=error)
        except RunBusy:
            pass  # someone else moved it on in the meantime: their word stands


def run_as_job(context: dict, call: Callable[[], int]) -> int:
    """Run the verb (`call`) as the launched job `context` describes."""
    signal.signal(signal.SIGTERM, _stop)
    folder = context["run"]
    record_process(folder, os.getpid(), process_identity(os.getpid()) or "")  # the launcher may not have yet
    try:
        wait_for_slot(context["slots"], context["limit"], context["ticket"])
        return call()
    except KeyboardInterrupt:
        _settle(folder, "aborted", "aborted while queued")
        raise
    except BaseException as error:
        _settle(folder, "failed", first_line(error))
        raise
    finally:
        _settle(folder, "failed", "the job ended before it started")
