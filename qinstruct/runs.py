"""Run folders: the one home and the one record of every long job (corruption batch, conversion, demo world,
training, evaluation), whether the studio launched it or a shell did.

    RUN/config.yaml   the job's config, written once (`qinstruct VERB --config RUN/config.yaml` reruns it); a run
                      continues only with the same config: a changed one is refused, saying what differs
    RUN/status.json   the state machine below, the owner, the pid with its start time, the attempt, the error
    RUN/log.jsonl     append-only progress events: time, attempt, step, total, ETA, metrics
    RUN/.lock         held (flock) while the job runs: one job per folder; it names its holder

States: queued -> running -> done | failed | aborted.  A finished (or killed) run may be queued or run again: that
is a resume, a new attempt of the same job.  `interrupted` is never written: it is what a `running` run whose lock
nobody holds (the process was killed), or a `queued` one whose process is gone, reads as.  Every transition is
checked against the machine and written atomically under a short lock, so two writers never interleave.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .config import ConfigError, config_to_yaml
from .config.render import shell_line
from .fileio import append_line, now, read_jsonl, remove_stale_temporaries, write_json, write_text

Progress = Callable[[int, int], None]  # progress(done, total): the one progress type of every job


@contextlib.contextmanager
def progress_bar(desc: str, unit: str) -> Iterator[Progress]:
    """A command's progress bar on stderr (silent when stderr is not a terminal), as a Progress callback."""
    import sys

    from tqdm import tqdm

    bar = tqdm(total=0, unit=unit, desc=desc, file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()
    try:
        yield progress
    finally:
        bar.close()


STATES = ("queued", "running", "done", "failed", "aborted")
LIVE, FINAL = ("queued", "running"), ("done", "failed", "aborted")
# what each state (None: no run yet; interrupted: read, never written) may become
NEXT = {None: {"queued", "running"}, "queued": {"running", "failed", "aborted"},
        "running": {"done", "failed", "aborted"}, "interrupted": {"queued", "running", "failed", "aborted"},
        **{state: {"queued", "running"} for state in FINAL}}
CONFIG_FILE, STATUS_FILE, LOG_FILE, LOCK_FILE = "config.yaml", "status.json", "log.jsonl", ".lock"
STATUS_LOCK, STDOUT_FILE = ".status.lock", "stdout.log"  # stdout.log: a launched job's output, tracebacks included
RUN_FILES = (CONFIG_FILE, STATUS_FILE, LOG_FILE, LOCK_FILE, STATUS_LOCK, STDOUT_FILE)  # bookkeeping, beside outputs
LOG_INTERVAL_S = 1.0  # progress lines at most this often (and always the last one)
THROTTLE_ENV = "QINSTRUCT_THROTTLE_S"  # seconds every job step waits: tests and demos that need a job in progress
QUEUE_GRACE_S = 120.0  # a queued run whose launcher never recorded a process is interrupted after this long


class RunBusy(ConfigError):
    """Another process holds the run folder, or the run is in a state that does not allow what was asked."""


class RunReused(ConfigError):
    """A run folder asked to run a different job from the one it was started with."""


@dataclasses.dataclass
class RunStatus:
    path: Path
    kind: str
    state: str  # one of STATES, or "interrupted"
    started: str | None = None
    ended: str | None = None
    error: str | None = None
    command: str | None = None
    summary: dict | None = None
    owner: str | None = None  # the studio user who launched it; None: the operator (a shell, a studio without login)
    attempt: int = 1
    pid: int | None = None
    pid_start: str | None = None
    launched: bool = False  # started by the job launcher, in its own process group
    queued: str | None = None
    pending: str | None = None  # queued with no process yet: its entry in the launcher's line

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def live(self) -> bool:
        return self.state in LIVE


def _lock(handle, attempts: int = 1) -> bool:
    for attempt in range(attempts):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < attempts:
                time.sleep(0.05)
    return False


def lock_is_held(folder: Path) -> bool:
    lock = Path(folder) / LOCK_FILE
    if not lock.exists():
        return False
    with lock.open("a") as handle:
        if not _lock(handle):
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


# ---------------------------------------------------------------------------------------------- status.json


def _read_data(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def effective_state(folder: Path, data: dict) -> str:
    """The state a status says, corrected by what is true now: a running job nobody holds, or a queued one whose
    process is gone, is interrupted."""
    from .jobs.process import is_same_process

    state = data.get("state")
    if state == "running" and not lock_is_held(folder):
        return "interrupted"
    if state == "queued":
        if data.get("pid"):
            return "queued" if is_same_process(data.get("pid"), data.get("pid_start")) else "interrupted"
        if isinstance(data.get("pending"), str):  # waiting in the launcher's line, with no process yet
            return "queued" if Path(data["pending"]).is_file() else "interrupted"
        queued_at = data.get("queued_at")
        if isinstance(queued_at, (int, float)) and time.time() - queued_at > QUEUE_GRACE_S:
            return "interrupted"
    return state


@contextlib.contextmanager
def _status_lock(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / STATUS_LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def transition(folder: str | Path, to: str, expect_pid: int | None = None, taking_over: bool = False,
               **fields: Any) -> dict:
    """Move a run to state `to` (checked against NEXT) with `fields`; returns the status written.  With
    `expect_pid`, only if the run's recorded process is that one (a launched job fixing up its own status must
    not overwrite a run someone else has taken over).  `taking_over`: the caller has just taken the run's lock,
    so a `running` status is a dead holder's.  Raises RunBusy when the move is not allowed."""
    folder = Path(folder)
    with _status_lock(folder):
        stored = _read_data(folder)
        current = effective_state(folder, stored) if stored is not None else None
        if taking_over and current == "running":
            current = "interrupted"
        if to not in NEXT.get(current, set()):
            raise RunBusy(f"{folder.name} is {current}: it cannot become {to}")
        if expect_pid is not None and (stored or {}).get("pid") != expect_pid:
            raise RunBusy(f"{folder.name} is now held by another process")
        status = dict(stored or {})
        attempt = int(status.get("attempt") or 0) if isinstance(status.get("attempt"), int) else 0
        if to == "queued" or (to == "running" and current != "queued"):
            status["attempt"] = attempt + 1  # a new attempt; running from queued is that queued attempt
        if to in LIVE:
            for stale in ("ended", "error", "summary"):
                status.pop(stale, None)
        status.update({k: v for k, v in fields.items()}, state=to)
        write_json(folder / STATUS_FILE, {k: v for k, v in status.items() if v is not None})
        return status


def record_process(folder: str | Path, pid: int, pid_start: str) -> None:
    """The launcher notes its child's pid and start time while the run is still queued (the child may already
    have moved on: then it wrote them itself)."""
    folder = Path(folder)
    with _status_lock(folder):
        stored = _read_data(folder)
        if stored is not None and stored.get("state") == "queued" and not stored.get("pid"):
            stored.pop("pending", None)  # out of the launcher's line: it has its process now
            write_json(folder / STATUS_FILE, {**stored, "pid": pid, "pid_start": pid_start})


def _text(data: dict, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def read_status(folder: str | Path) -> RunStatus | None:
    """The run's status (None: no run here, or a status file that cannot be read; `status_problem` says why)."""
    folder = Path(folder)
    data = _read_data(folder)
    if data is None or status_problem(folder, data):
        return None
    pid = data.get("pid")
    return RunStatus(folder, data["kind"], effective_state(folder, data), _text(data, "started"),
                     _text(data, "ended"), _text(data, "error"), _text(data, "command"),
                     data.get("summary") if isinstance(data.get("summary"), dict) else None, _text(data, "owner"),
                     data.get("attempt") if isinstance(data.get("attempt"), int) else 1,
                     pid if isinstance(pid, int) and not isinstance(pid, bool) else None, _text(data, "pid_start"),
                     data.get("launched") is True, _text(data, "queued"), _text(data, "pending"))


def status_problem(folder: Path, data: dict | None = None) -> str | None:
    """Why a status.json is not a run's status (None: it is one)."""
    data = _read_data(folder) if data is None else data
    if data is None:
        return "status.json is not a JSON object"
    if not isinstance(data.get("kind"), str) or not data["kind"]:
        return "status.json has no kind"
    if data.get("state") not in STATES:
        return f"status.json has an unknown state {data.get('state')!r}"
    for key in ("started", "ended", "error", "command", "owner"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"status.json: {key} is not text"
    return None


def read_log(folder: str | Path) -> list[dict]:
    return read_jsonl(Path(folder) / LOG_FILE)


RUN_DEPTH = 5  # the deepest run folder of a workspace: users/NAME/corrupt/batches/BATCH


def list_runs(root: str | Path, kind: str | None = None, depth: int = RUN_DEPTH,
              problems: list[tuple[Path, str]] | None = None) -> list[RunStatus]:
    """Run folders under `root` (a workspace: every user's namespace included), newest first; only those of
    `kind` when given.  A folder whose status cannot be read is left out, and said in `problems` when a list is
    given."""
    found = []
    for folder in _status_folders(Path(root), depth):
        status = read_status(folder)
        if status is None:
            if problems is not None:
                problems.append((folder, status_problem(folder) or "unreadable"))
            continue
        if kind is None or status.kind == kind:
            found.append(status)
    return sorted(found, key=lambda s: (max(s.started or "", s.queued or ""), str(s.path)), reverse=True)


def _status_folders(root: Path, depth: int) -> Iterator[Path]:
    """The folders 1 to `depth` levels below `root` that hold a status.json.  Symbolic links are not followed (a
    glob did: a link to a parent folder looped until the depth ran out and a link to a run listed it again, under
    each path); `root` itself may be one."""
    base = len(root.parts)
    for folder, subfolders, files in os.walk(root):  # followlinks=False: a linked folder is listed, not entered
        level = len(Path(folder).parts) - base
        if level >= depth:
            subfolders.clear()
        if level >= 1 and STATUS_FILE in files and not os.path.islink(os.path.join(folder, STATUS_FILE)):
            yield Path(folder)


# ---------------------------------------------------------------------------------------------- config.yaml


def config_differences(folder: Path, config: Any) -> list[str] | None:
    """How `config` differs from the one the run was started with ("field: before -> now"); None when the run
    has no config yet.  Fields marked `affects_result=False` (workers, batch sizes...) may change."""
    from .config import job_fields, load_config
    from .config.schema import plain

    stored = folder / CONFIG_FILE
    if not stored.is_file():
        return None
    try:
        before = load_config(type(config), stored)
    except ConfigError as error:
        return [f"its config.yaml cannot be read as this job ({error})"]
    return [f"{field.name}: {plain(getattr(before, field.name))!r} -> {plain(getattr(config, field.name))!r}"
            for field in job_fields(type(config)) if field.metadata.get("affects_result", True)
            and plain(getattr(before, field.name)) != plain(getattr(config, field.name))]


def check_same_job(folder: Path, config: Any) -> None:
    """Refuse to continue a run with another config (one line: what differs, and what to do instead)."""
    differences = config_differences(folder, config)
    if differences:
        shown = "; ".join(differences[:4]) + (f"; and {len(differences) - 4} more" if len(differences) > 4 else "")
        raise RunReused(f"{folder.name} was started with another config ({shown}); run it again with the same config "
                        "to continue it, or give this job a new run folder")


# ---------------------------------------------------------------------------------------------- the job's side


def make_run_folder(path: Path) -> None:
    """Create a run folder, or say in one line why it cannot be one (a file there, a file above it, a folder
    nobody may write, a file system that takes no folders such as /proc)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: exists and is not a folder; give the run a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / LOCK_FILE).touch()
    except OSError as error:
        raise ConfigError(f"{path}: cannot be a run folder ({error.strerror or error})") from None


class RunFolder:
    def __init__(self, path: str | Path, kind: str):
        self.path = Path(path)
        self.kind = kind
        self.attempt = 1
        self._started_at = 0.0
        self._last_log = 0.0
        self.summary: dict | None = None  # a job may set a short summary, saved in status.json at the end

    @contextlib.contextmanager
    def hold(self, config: Any = None) -> Iterator[RunFolder]:
        """Take the folder for this process (the same job only); record that it runs and how it ends."""
        from .jobs.process import process_identity
        from .jobs.slots import workspace_slot

        make_run_folder(self.path)
        with (self.path / LOCK_FILE).open("a+") as handle:
            if not _lock(handle, attempts=10):  # a moment's grace: list_runs probes locks too
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise RunBusy(f"{self.path} is in use by {holder}; wait for it to finish or choose another "
                              "output folder")
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {now()}\n")
            handle.flush()
            if config is not None:
                check_same_job(self.path, config)  # before anything is written: a refused run changes nothing
            remove_stale_temporaries(self.path)
            command = None
            if config is not None:
                if not (self.path / CONFIG_FILE).is_file():
                    write_text(self.path / CONFIG_FILE, config_to_yaml(config))
                with contextlib.suppress(TypeError, ValueError):  # a config that has no verb or no flag form
                    command = shell_line(config)
            with workspace_slot(self.path):  # a shell-started job in a studio's workspace counts toward its limit
                status = transition(self.path, "running", taking_over=True, kind=self.kind, started=now(),
                                    pid=os.getpid(), pid_start=process_identity(os.getpid()),
                                    host=socket.gethostname(), command=command)
                self.attempt = status["attempt"]
                yield from self._run()

    def _run(self) -> Iterator[RunFolder]:
        self._started_at = time.time()
        try:
            yield self
        except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM turned into it (an abort)
            transition(self.path, "aborted", ended=now(), error=str(error) or "stopped")
            raise
        except BaseException as error:
            message = " ".join(str(error).split())[:500] or type(error).__name__
            transition(self.path, "failed", ended=now(), error=message)
            raise
        transition(self.path, "done", ended=now(), summary=self.summary)

    def log(self, **event: Any) -> None:
        append_line(self.path / LOG_FILE, {"time": round(time.time(), 3), "attempt": self.attempt, **event})

    def progress(self, done: int, total: int, **metrics: Any) -> None:
        """A progress event (step, total, ETA, metrics), at most once per LOG_INTERVAL_S and always at the end."""
        throttle()
        moment = time.time()
        if done < total and moment - self._last_log < LOG_INTERVAL_S:
            return
        self._last_log = moment
        elapsed = moment - self._started_at if self._started_at else 0.0
        eta = elapsed / done * (total - done) if done and total >= done else None
        self.log(step=done, total=total, elapsed_s=round(elapsed, 2),
                 eta_s=None if eta is None else round(eta, 1), **metrics)

    def tracker(self, callback: Progress | None = None) -> Progress:
        """A progress(done, total) that logs into this folder and also calls `callback` (a bar, the UI)."""
        def report(done: int, total: int) -> None:
            self.progress(done, total)
            if callback is not None:
                callback(done, total)
        return report


def throttle() -> None:
    """Slow a job's step down when QINSTRUCT_THROTTLE_S asks (a test that must catch a job in progress)."""
    try:
        delay = float(os.environ.get(THROTTLE_ENV) or 0)
    except ValueError:
        delay = 0.0
    if delay > 0:
        time.sleep(min(delay, 10.0))


def describe(status: RunStatus) -> str:
    """One line for a terminal or the studio."""
    text = f"{status.name}: {status.state}"
    if status.started:
        text += f" (started {status.started}" + (f", ended {status.ended})" if status.ended else ")")
    if status.error:
        text += f" — {status.error}"
    return text


__all__ = ["Progress", "RunBusy", "RunFolder", "RunReused", "RunStatus", "STATES", "check_same_job",
           "config_differences", "describe", "list_runs", "read_log", "read_status", "transition"]
