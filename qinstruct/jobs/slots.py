"""Slots: how many jobs run at once in a workspace, whoever started them.

Slots are files under the workspace's `.jobs/` folder, each held with flock by the job running in it (and naming
its run folder): a killed job frees its slot with its last breath, with nobody to clean up after it.  Processes
waiting for a slot line up by ticket through one file each under `.jobs/queue/`, so a later job never overtakes
an earlier one.  A job started from a shell in a studio's workspace (`.jobs/limit` says how many run at once)
takes a slot too (`workspace_slot`), so --max-jobs counts every job on the workspace.  This module reads no run
folder: the run folders' module (runs.py) uses it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .process import process_identity

SLOT_ENV = "QINSTRUCT_SLOT"  # set while this process (a job) holds a slot: its worker processes take none
JOB_ENV = "QINSTRUCT_JOB"  # a launched job's context, JSON: {"run": RUN, "slots": DIR, "limit": N, "ticket": T}
LIMIT_FILE = "limit"  # .jobs/limit: the studio's --max-jobs, which shell-started jobs obey too
POLL_S = 0.2


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


def queue_entry(slots: Path, ticket: int, pid: int, run: Path | None = None) -> Path:
    """A waiting process's place in line (naming its run folder).  The launcher makes it as it starts the process,
    so a job that is slow to start (a training imports more) keeps its place; the job makes it too, in case."""
    queue = slots / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    entry = queue / f"{ticket:020d}-{pid}"
    if run is not None or not entry.exists():
        entry.write_text(str(run or ""), encoding="utf-8")
    return entry


def wait_for_slot(slots: Path, limit: int, ticket: int, run: Path | None = None) -> IO:
    """Block until this process is first in line and a slot is free; returns the slot's handle (the slot is
    held while it is open), which names `run`."""
    queue = slots / "queue"
    mine = queue_entry(slots, ticket, os.getpid(), run)
    try:
        while True:
            entries = _queue_entries(queue)
            if entries and entries[0][2] == mine:
                for index in range(limit):
                    handle = (slots / f"slot-{index}.lock").open("a+")
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        handle.close()
                        continue
                    handle.seek(0)
                    handle.truncate()
                    handle.write(str(run or ""))
                    handle.flush()
                    return handle
            time.sleep(POLL_S)
    finally:
        mine.unlink(missing_ok=True)


def held_slots(slots: Path) -> list[str]:
    """The run folder named by each slot held now ("" when its holder does not say): jobs running under the
    launcher, and shell-started jobs in its workspace."""
    held = []
    for path in sorted(slots.glob("slot-*.lock")):
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
            except BlockingIOError:
                handle.seek(0)
                held.append(handle.read().strip())
    return held


def busy_runs(slots: Path) -> list[str]:
    """The run folder of each job holding a slot or waiting for one with a process of its own: what counts
    toward the limits."""
    runs = held_slots(slots)
    for _, _, entry in _queue_entries(slots / "queue"):
        try:
            runs.append(entry.read_text(encoding="utf-8").strip())
        except OSError:
            continue  # it got its slot in the meantime (and is counted there next time)
    return runs


def workspace_slots(folder: Path) -> Path | None:
    """The slots of the studio workspace a run folder is in (the nearest `.jobs/` with a limit), if any."""
    for parent in Path(folder).resolve().parents:
        if (parent / ".jobs" / LIMIT_FILE).is_file():
            return parent / ".jobs"
    return None


def read_limit(slots: Path) -> int | None:
    try:
        return max(1, int((slots / LIMIT_FILE).read_text().strip()))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def workspace_slot(folder: Path) -> Iterator[None]:
    """A job started from a shell in a studio's workspace runs in one of its slots (waiting in line when all are
    taken), so that the studio's --max-jobs counts it.  A launched job, or a worker of one, already has its
    slot; a run outside any studio workspace needs none."""
    slots = workspace_slots(folder) if not os.environ.get(SLOT_ENV) else None
    limit = read_limit(slots) if slots is not None else None
    if limit is None:
        yield
        return
    if len(held_slots(slots)) >= limit:
        print(f"waiting for one of the workspace's {limit} job slot(s) (its studio's --max-jobs)…", file=sys.stderr,
              flush=True)
    handle = wait_for_slot(slots, limit, time.time_ns(), Path(folder).resolve())
    os.environ[SLOT_ENV] = "1"
    try:
        yield
    finally:
        os.environ.pop(SLOT_ENV, None)
        handle.close()


def queue_entries(slots: Path) -> list[tuple[int, int, Path]]:
    """(ticket, pid, file) of each process waiting for a slot, in order (those that died are removed)."""
    return _queue_entries(slots / "queue")


def queue_position(slots: Path, ticket: int | None) -> int | None:
    """How many waiting jobs are ahead of the one with this ticket (None: it is not waiting)."""
    entries = _queue_entries(slots / "queue")
    tickets = [t for t, _, _ in entries]
    return tickets.index(ticket) if ticket in tickets else None
