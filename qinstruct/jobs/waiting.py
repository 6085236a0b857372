"""Jobs waiting for a slot, with no process yet: the launcher's line.

A job the studio starts while every slot is taken is written here (`.jobs/pending/TICKET.json`: its run folder,
owner, command and environment -- never a key) and its run reads `queued`; nothing runs for it until a slot is
free.  Then the launcher's dispatcher starts the next one, fairly: among the users still under their own limit of
running jobs, the one with the fewest jobs busy goes first, and their earliest job.  So one user's twenty queued
trainings hold no memory and make nobody else wait behind all twenty.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..fileio import write_json
from ..runs import read_status
from .slots import busy_runs

PENDING = "pending"


@dataclass(frozen=True)
class Pending:
    ticket: int  # the order jobs were started in
    run: str  # the run folder
    owner: str | None
    argv: list[str] = field(default_factory=list)  # `qinstruct ARGV`
    env: dict[str, str] = field(default_factory=dict)  # the job's policy (never a key: that stays in memory)


def pending_path(slots: Path, ticket: int) -> Path:
    return slots / PENDING / f"{ticket:020d}.json"


def add_pending(slots: Path, job: Pending) -> Path:
    path = pending_path(slots, job.ticket)
    write_json(path, asdict(job))
    return path


def list_pending(slots: Path) -> list[Pending]:
    """The jobs waiting with no process, in ticket order; an entry whose run is no longer waiting on it (aborted,
    or started by a shell meanwhile) or that cannot be read is removed."""
    found = []
    for path in sorted((slots / PENDING).glob("*.json")):
        try:
            job = Pending(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)
            continue
        status = read_status(job.run)
        if status is None or status.state != "queued" or status.pending != str(path):
            path.unlink(missing_ok=True)
            continue
        found.append(job)
    return found


def busy_owners(slots: Path) -> Counter:
    """How many jobs each owner has running or about to run (a process waiting for its slot); None: the
    operator and shell-started jobs.  A process whose run has already ended (it is exiting) counts no more: the
    next job may start, and takes the slot as soon as it is let go; so does one whose run is waiting in line
    again (a rerun started while the last attempt's process was still exiting)."""
    owners: Counter = Counter()
    for run in busy_runs(slots):
        status = read_status(run) if run else None
        if status is None or (status.live and status.pending is None):
            owners[status.owner if status else None] += 1
    return owners


def _under_limit(job: Pending, busy: Counter, per_user: int | None) -> bool:
    return job.owner is None or per_user is None or busy[job.owner] < per_user


def dispatch_order(waiting: list[Pending], busy: Counter, per_user: int | None) -> list[Pending]:
    """The order the waiting jobs would start in if slots kept freeing up: each time, the owner with the fewest
    busy jobs, then the one with the fewest jobs waiting (a user with one job goes before one with twenty), and
    that owner's earliest job; an owner at `per_user` busy jobs waits for one of theirs to end (the operator has
    no such limit)."""
    busy, left, order = Counter(busy), list(waiting), []
    while left:
        ready = [job for job in left if _under_limit(job, busy, per_user)]
        if not ready:  # everyone left is at their limit: they take turns as their own jobs end
            ready, busy = left, Counter()
        queued = Counter(job.owner for job in left)
        job = min(ready, key=lambda j: (busy[j.owner], queued[j.owner], j.ticket))
        order.append(job)
        left.remove(job)
        busy[job.owner] += 1
    return order


def next_to_start(waiting: list[Pending], busy: Counter, per_user: int | None) -> Pending | None:
    """The job to start now that a slot is free (None: every waiting owner is at their own limit)."""
    order = dispatch_order(waiting, busy, per_user)
    return order[0] if order and _under_limit(order[0], busy, per_user) else None
