"""Starting, aborting and resuming long jobs: the one way the studio runs them (and the operator's `qinstruct
runs`).

A job is `qinstruct VERB --config RUN/config.yaml` in its own process group, whatever the verb.  Its run folder
(runs.py) is the only record: config.yaml written once, here; status.json with the owner, the pid and its start
time, the attempt; log.jsonl; stdout.log.  At most `limit` launched jobs run at once; the others wait as queued,
in the order they were started (child.py).  A user controls their own jobs; the operator (the command line, or
the studio without a login) controls every job, shell-started ones included.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from ..access import UNRESTRICTED, AccessPolicy, policy_environment
from ..config import check_config, load_config
from ..config.render import shell_line
from ..fileio import write_text
from ..runs import (CONFIG_FILE, RunBusy, RunStatus, check_same_job, list_runs, make_run_folder, read_status,
                    record_process, transition)
from .child import JOB_ENV, queue_entry, queue_position, running_jobs
from .kinds import all_kinds, folder_of, kind_named, kind_of
from .process import signal_job, spawn_job, wait_gone
from .view import STDOUT, JobView, view

OPERATOR = None  # the owner (and actor) that is the operator: a shell, or a studio without a login
ABORT_GRACE_S = 15.0


def default_limit() -> int:
    """Jobs running at once: half the cores (one on a 2-core laptop, where one training already uses both)."""
    return max(1, (os.cpu_count() or 2) // 2)


def may_control(actor: str | None, owner: str | None) -> bool:
    """The operator controls everything; a user controls their own jobs only."""
    return actor is OPERATOR or actor == owner


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


class Launcher:
    """The job system of one workspace: `policy` is what the launched jobs may reach (the studio's), `limit`
    how many run at once."""

    def __init__(self, workspace_root: str | Path, policy: AccessPolicy = UNRESTRICTED, limit: int | None = None):
        self.root = Path(workspace_root)
        self.policy = policy
        self.limit = max(1, int(limit or default_limit()))
        self.slots = self.root / ".jobs"

    # ------------------------------------------------------------------------------------ start, resume

    def start(self, config: Any, owner: str | None = OPERATOR, user_key: str | None = None) -> str:
        """Launch the job (or continue its run: the same config only); returns one line saying which."""
        kind = kind_of(config)
        check_config(config)
        folder = folder_of(config)
        with self._launching():
            status = read_status(folder)
            point = self._admit(folder, status, config, owner) if status is not None else None
            _prepare_folder(folder, config)
            ticket = time.time_ns()  # the order in which queued jobs get a slot
            transition(folder, "queued", kind=kind.name, owner=owner, queued=_now(), queued_at=time.time(),
                       ticket=ticket, launched=True, command=_command(config), pid=None, pid_start=None)
            context = {"run": str(folder.resolve()), "slots": str(self.slots), "limit": self.limit, "ticket": ticket}
            env = {**policy_environment(self.policy, user_key), JOB_ENV: json.dumps(context)}
            pid, identity = spawn_job([*type(config).COMMAND, "--config", str(folder / CONFIG_FILE)],
                                      folder / STDOUT, env)
            queue_entry(self.slots, ticket, pid)
            record_process(folder, pid, identity)
        if point is None:
            return f"{folder.name} started"
        return f"{folder.name} resumes: it {point}"

    def _admit(self, folder: Path, status: RunStatus, config: Any, owner: str | None) -> str:
        """Whether a run that exists may run again with this config; returns what it continues from."""
        kind = kind_named(status.kind) if status.kind in all_kinds() else None
        if not may_control(owner, status.owner):
            raise RunBusy(f"{folder.name}: this name is taken by another user's run; choose another name")
        if kind is None or kind.name != kind_of(config).name:
            raise RunBusy(f"{folder.name} holds a {status.kind} run, not a {kind_of(config).name} one; choose "
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
        if status.kind not in all_kinds():
            raise RunBusy(f"{folder.name}: a {status.kind} run cannot be resumed from here")
        config = load_config(kind_named(status.kind).config_class(), folder / CONFIG_FILE)
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
            job.waiting_behind = queue_position(self.slots, _ticket(job.path))
        return job

    def jobs(self, actor: str | None = OPERATOR, kinds: tuple[str, ...] | None = None,
             under: str | Path | None = None) -> list[RunStatus]:
        """The runs `actor` may see (the operator: all), newest first; only these kinds; only the folders right
        under `under` when given (a tab's own folder: runs/, evals/...), else the whole workspace."""
        root = Path(under) if under is not None else self.root
        return [status for status in list_runs(root, depth=1 if under is not None else 4)
                if may_control(actor, status.owner) and (kinds is None or status.kind in kinds)]

    def running(self) -> int:
        return running_jobs(self.slots, self.limit)


def abort(folder: str | Path, actor: str | None = OPERATOR, grace_s: float = ABORT_GRACE_S) -> str:
    """Stop a job: SIGTERM to its process (its group, when the launcher started it) only if the recorded pid is
    still that process; SIGKILL if it lingers; the run then reads `aborted`.  Returns when it has stopped."""
    folder = Path(folder)
    status = read_status(folder)
    if status is None or not may_control(actor, status.owner):
        raise RunBusy(f"{folder.name}: no such run of yours")
    if not status.live:
        return f"{folder.name} is not running ({status.state})"
    pid, identity = status.pid, status.pid_start or ""
    if pid and signal_job(pid, identity, signal.SIGTERM, group=status.launched):
        if not wait_gone(pid, identity, grace_s):
            signal_job(pid, identity, signal.SIGKILL, group=status.launched)
            wait_gone(pid, identity, 5.0)
    try:  # a process that died without a word (or was killed) cannot record it: say it for it
        transition(folder, "aborted", ended=_now(), error="aborted")
    except RunBusy:
        pass  # it recorded its own end
    after = read_status(folder)
    point = kind_named(after.kind).resume_point(folder) if after and after.kind in all_kinds() else ""
    return f"{folder.name} {after.state if after else 'stopped'}" + (f"; Resume {point}" if point else "")


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
    """The run folder exists and holds the job's config (written once: a resume keeps it)."""
    from ..config import config_to_yaml

    make_run_folder(folder)
    if not (folder / CONFIG_FILE).is_file():
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
