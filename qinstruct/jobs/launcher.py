"""Starting, aborting and resuming long jobs: the one way the studio runs them (and the operator's `qinstruct
runs`).

A job is `python -m qinstruct.jobs.child KIND RUN/config.yaml` in its own process group, which calls its
JobSpec's run (registry.py) -- what `qinstruct VERB --config RUN/config.yaml` calls from a shell.  Its run folder
(runs.py) is the only record: config.yaml written once, here; status.json with the owner, the pid and its start
time, the attempt; log.jsonl; stdout.log.  At most `limit` jobs run at once in the workspace (shell-started ones
count too: child.py); the others wait as queued with no process (waiting.py) until the dispatcher starts them --
fairly between users, each user at most `per_user` at once and `queued_per_user` waiting.  A user controls their
own jobs; the operator (the command line, or the studio without a login) controls every job, shell-started
ones included.
"""
from __future__ import annotations

import copy
import fcntl
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from ..access import UNRESTRICTED, AccessPolicy, policy_environment
from ..config import check_config, load_config
from ..config.render import shell_line
from ..endpoints import USER_KEY_ENV
from ..fileio import now, write_text
from ..runs import (
    CONFIG_FILE,
    RUN_DEPTH,
    RunBusy,
    RunStatus,
    check_same_job,
    list_runs,
    make_run_folder,
    read_status,
    record_process,
    transition,
)
from .process import signal_job, spawn_job, wait_gone
from .registry import job_specs, kinds_of, spec_named, spec_of
from .slots import JOB_ENV, LIMIT_FILE, held_slots, queue_entries, queue_entry, queue_position
from .view import STDOUT, JobView, view
from .waiting import Pending, add_pending, busy_owners, dispatch_order, list_pending, next_to_start, pending_path

OPERATOR = None  # the owner (and actor) that is the operator: a shell, or a studio without a login
ABORT_GRACE_S = 15.0


def default_limit() -> int:
    """Jobs running at once: half the cores (one on a 2-core laptop, where one training already uses both)."""
    return max(1, (os.cpu_count() or 2) // 2)


QUEUED_PER_USER = 4  # a logged-in user's jobs waiting at once (more are refused)
DISPATCH_POLL_S = 0.5


def may_control(actor: str | None, owner: str | None) -> bool:
    """The operator controls everything; a user controls their own jobs only."""
    return actor is OPERATOR or actor == owner


class Launcher:
    """The job system of one workspace: `policy` is what the launched jobs may reach (the studio's), `limit`
    how many run at once."""

    def __init__(self, workspace_root: str | Path, policy: AccessPolicy = UNRESTRICTED, limit: int | None = None,
                 per_user: int | None = None, queued_per_user: int | None = QUEUED_PER_USER):
        self.root = Path(workspace_root)
        self.policy = policy
        self.limit = max(1, int(limit or default_limit()))
        self.per_user = max(1, int(per_user or max(1, self.limit // 2)))
        self.queued_per_user = queued_per_user
        self.slots = self.root / ".jobs"
        self.slots.mkdir(parents=True, exist_ok=True)
        write_text(self.slots / LIMIT_FILE, f"{self.limit}\n")  # shell-started jobs in the workspace obey it too
        # shared by every user's view of this launcher: keys typed for waiting jobs (memory only), the dispatcher
        self._shared = {"keys": {}, "thread": None, "lock": threading.Lock()}
        if list_pending(self.slots):  # jobs left waiting by a studio that stopped: start them as slots free up
            self._keep_dispatching()

    def as_user(self, policy: AccessPolicy) -> Launcher:
        """The same job system, launching jobs under a user's policy (their namespace, not the workspace)."""
        view = copy.copy(self)
        view.policy = policy
        return view

    # ------------------------------------------------------------------------------------ start, resume

    def admit(self, config: Any) -> Any:
        """The job as it may run here: checked, its path fields confined to what this launcher's user may read
        (resolved, so the job reads the same files from anywhere), its inputs and endpoints there -- all before
        any process starts for it."""
        check_config(config)
        config = self.policy.confine(config)
        if hasattr(config, "check_inputs"):  # the job's own words for its main input, and its endpoints
            config.check_inputs(self.policy)
        self.policy.require_present(config)
        return config

    def start(self, config: Any, owner: str | None = OPERATOR, user_key: str | None = None) -> str:
        """Launch the job (or continue its run: the same config only) now, or put it in line when every slot is
        taken; returns one line saying which."""
        spec = spec_of(config)
        config = self.admit(config)
        folder = spec.folder(config)
        with self._launching():
            status = read_status(folder)
            point = self._admit(folder, status, config, owner) if status is not None else None
            waiting = list_pending(self.slots)
            self._check_waiting_limit(owner, waiting)
            _prepare_folder(folder, config)
            ticket = time.time_ns()  # the order in which queued jobs get a slot
            entry = pending_path(self.slots, ticket)
            transition(folder, "queued", kind=spec.kind, owner=owner, queued=now(), queued_at=time.time(),
                       ticket=ticket, launched=True, command=_command(config), pid=None, pid_start=None,
                       pending=str(entry))
            if user_key:
                self._shared["keys"][ticket] = user_key
            add_pending(self.slots, Pending(ticket, str(folder.resolve()), owner,
                                            [spec.kind, str(folder / CONFIG_FILE)], policy_environment(self.policy)))
            started = self._dispatch()
        if ticket not in started:
            self._keep_dispatching()
        if ticket not in started:
            return f"{folder.name} queued: it " + ("starts once a slot is free" if point is None else
                                                   f"resumes once a slot is free ({point})")
        return f"{folder.name} started" if point is None else f"{folder.name} resumes: it {point}"

    def _check_waiting_limit(self, owner: str | None, waiting: list) -> None:
        """A logged-in user may have at most `queued_per_user` jobs waiting (the operator has no such limit)."""
        if owner is OPERATOR or self.queued_per_user is None:
            return
        mine = sum(job.owner == owner for job in waiting)
        if mine >= self.queued_per_user:
            raise RunBusy(f"you already have {mine} job(s) waiting for a slot (at most {self.queued_per_user} here): "
                          "wait for one to start, or abort one")

    def _dispatch(self) -> set[int]:
        """Start waiting jobs while slots are free (the caller holds the launch lock); returns their tickets."""
        started = set()
        while True:
            waiting = list_pending(self.slots)
            busy = busy_owners(self.slots)
            if not waiting or sum(busy.values()) >= self.limit:
                return started
            job = next_to_start(waiting, busy, self.per_user)
            if job is None:
                return started
            self._spawn(job)
            started.add(job.ticket)

    def _spawn(self, job: Pending) -> None:
        folder = Path(job.run)
        key = self._shared["keys"].pop(job.ticket, None)
        context = {"run": job.run, "slots": str(self.slots), "limit": self.limit, "ticket": job.ticket}
        env = {**job.env, **({USER_KEY_ENV: key} if key else {}), JOB_ENV: json.dumps(context)}
        pid, identity = spawn_job(job.argv, folder / STDOUT, env)
        queue_entry(self.slots, job.ticket, pid, folder)  # busy from now on: counted before it takes its slot
        # its process recorded before it leaves the line: in between, its status named a line entry that was gone
        # and no process, which reads as interrupted (a watching page stopped there once, under load)
        record_process(folder, pid, identity)
        pending_path(self.slots, job.ticket).unlink(missing_ok=True)

    def dispatch(self) -> set[int]:
        """Start what can start now (the dispatcher calls this while jobs wait)."""
        with self._launching():
            return self._dispatch()

    def _keep_dispatching(self) -> None:
        """While jobs wait, a thread of this process starts them as slots free up (it ends when none wait)."""
        shared = self._shared
        with shared["lock"]:
            if shared["thread"] is not None and shared["thread"].is_alive():
                return
            shared["thread"] = threading.Thread(target=self._dispatch_loop, name="qinstruct-dispatcher",
                                                daemon=True)
            shared["thread"].start()

    def _dispatch_loop(self) -> None:
        while True:
            time.sleep(DISPATCH_POLL_S)
            with self._shared["lock"]:
                self.dispatch()
                if not list_pending(self.slots):
                    self._shared["thread"] = None
                    return

    def _admit(self, folder: Path, status: RunStatus, config: Any, owner: str | None) -> str:
        """Whether a run that exists may run again with this config; returns what it continues from."""
        kind = job_specs().get(status.kind)
        if not may_control(owner, status.owner):
            raise RunBusy(f"{folder.name}: this name is not available; choose another name")
        if kind is None or kind.kind != spec_of(config).kind:
            raise RunBusy(f"{folder.name} holds a {status.kind} run, not a {spec_of(config).kind} one; choose "
                          "another name")
        if status.live:
            raise RunBusy(f"{folder.name} is already {status.state}")
        if status.state == "done" and not kind.rerun_done:
            raise RunBusy(f"{folder.name} is done (its model is in {folder.name}/model); start a new run under "
                          "another name")
        check_same_job(folder, config)
        return kind.resume_point(folder)

    def resume(self, folder: str | Path, actor: str | None = OPERATOR, user_key: str | None = None) -> str:
        """Continue a run with the config it was started with."""
        folder = Path(folder)
        status = self._controlled(folder, actor)
        if status.kind not in job_specs():
            raise RunBusy(f"{folder.name}: a {status.kind} run cannot be resumed from here")
        config = load_config(spec_named(status.kind).config, folder / CONFIG_FILE)
        return self.start(config, status.owner, user_key)

    def _launching(self):
        """One start at a time per workspace (two clicks on Start must not both launch)."""
        self.slots.mkdir(parents=True, exist_ok=True)
        return _FileLock(self.slots / "launch.lock")

    # ------------------------------------------------------------------------------------ abort, watch

    def abort(self, folder: str | Path, actor: str | None = OPERATOR, grace_s: float = ABORT_GRACE_S) -> str:
        return abort(folder, actor, grace_s)

    def _controlled(self, folder: Path, actor: str | None) -> RunStatus:
        status = read_status(folder)
        if status is None or not may_control(actor, status.owner):
            raise RunBusy(f"{folder.name}: no such run of yours")
        return status

    def view(self, folder: str | Path, actor: str | None = OPERATOR) -> JobView | None:
        """The job as its folder says, if `actor` may see it."""
        job = view(folder)
        if job is None or not may_control(actor, job.status.owner):
            return None
        if job.state == "queued":
            job.waiting_behind = self._place(job)
        return job

    def _place(self, job: JobView) -> int | None:
        """How many jobs start before this queued one (those waiting with a process go first)."""
        ticket = _ticket(job.path)
        if job.status.pending is None:
            return queue_position(self.slots, ticket)
        started = len(queue_entries(self.slots))  # dispatched, about to take their slots
        order = dispatch_order(list_pending(self.slots), busy_owners(self.slots), self.per_user)
        tickets = [entry.ticket for entry in order]
        return started + tickets.index(ticket) if ticket in tickets else None

    def jobs(self, actor: str | None = OPERATOR, configs: tuple[type, ...] | None = None,
             under: str | Path | None = None) -> list[RunStatus]:
        """The runs `actor` may see (the operator: all), newest first; only the jobs of these config classes
        (a tab's: TrainConfig...); only the folders right under `under` when given (a tab's own folder: runs/,
        evals/...), else the whole workspace."""
        kinds = kinds_of(configs) if configs is not None else None
        root = Path(under) if under is not None else self.root
        return [status for status in list_runs(root, depth=1 if under is not None else RUN_DEPTH)
                if may_control(actor, status.owner) and (kinds is None or status.kind in kinds)]

    def running(self) -> int:
        return len(held_slots(self.slots))


def abort(folder: str | Path, actor: str | None = OPERATOR, grace_s: float = ABORT_GRACE_S) -> str:
    """Stop a job: SIGTERM to its process (its group, when the launcher started it) only if the recorded pid is
    still that process; SIGKILL if it lingers; the run then reads `aborted`.  Returns when it has stopped."""
    folder = Path(folder)
    status = read_status(folder)
    if status is None or not may_control(actor, status.owner):
        raise RunBusy(f"{folder.name}: no such run of yours")
    if not status.live:
        return f"{folder.name} is not running ({status.state})"
    if status.pending and not status.pid:
        status = _leave_line(folder, Path(status.pending)) or status
    pid, identity = status.pid, status.pid_start or ""
    if pid and signal_job(pid, identity, signal.SIGTERM, group=status.launched):
        if not wait_gone(pid, identity, grace_s):
            signal_job(pid, identity, signal.SIGKILL, group=status.launched)
            wait_gone(pid, identity, 5.0)
    try:  # a process that died without a word (or was killed) cannot record it: say it for it
        transition(folder, "aborted", ended=now(), error="aborted")
    except RunBusy:
        pass  # it recorded its own end
    after = read_status(folder)
    spec = job_specs().get(after.kind) if after else None
    point = spec.resume_point(folder) if spec else ""
    return f"{folder.name} {after.state if after else 'stopped'}" + (f"; Resume {point}" if point else "")


def _leave_line(folder: Path, entry: Path) -> RunStatus | None:
    """A job waiting with no process leaves the line under the launch lock (so the dispatcher cannot start it
    meanwhile); returns its status if it had been started after all (then it is stopped like any other)."""
    with _FileLock(entry.parent.parent / "launch.lock"):
        entry.unlink(missing_ok=True)
        status = read_status(folder)
        return status if status is not None and status.pid else None


def _ticket(folder: Path) -> int | None:
    try:
        value = json.loads((folder / "status.json").read_text()).get("ticket")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _command(config: Any) -> str | None:
    try:
        return shell_line(config)
    except (TypeError, ValueError):
        return None


def _prepare_folder(folder: Path, config: Any) -> None:
    """The run folder exists and holds the job's config: the one it was admitted with, which differs from the
    last attempt's only in what does not change the result (a moved endpoint, more workers) -- the job reads
    this file, so the new values must be in it.  Resume (which reads the file) keeps it as it is."""
    from ..config import config_to_yaml

    make_run_folder(folder)
    write_text(folder / CONFIG_FILE, config_to_yaml(config))


class _FileLock:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.handle = self.path.open("a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


__all__ = ["OPERATOR", "Launcher", "abort", "default_limit", "may_control"]
