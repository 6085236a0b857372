"""Run folders: the one home of every long job (corruption batch, conversion, demo world, training, evaluation).

    RUN/.lock         held (flock) while a job runs: one job per folder; it names its holder
    RUN/config.yaml   the job's config as run (commented YAML: `qinstruct VERB --config RUN/config.yaml` reruns it)
    RUN/status.json   state (queued, running, done, failed, aborted), kind, start and end, error text, command
    RUN/log.jsonl     append-only progress events: time, step, total, ETA, metrics

The lock dies with its process, so a job killed with -9 leaves a folder that the next run can take over; its
status still says "running", which `RunStatus.state` reports as "interrupted" once nobody holds the lock.
The studio lists runs from these files and re-attaches to them after a page reload.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .config import ConfigError, config_to_yaml
from .config.render import shell_line
from .fileio import append_line, read_jsonl, remove_stale_temporaries, write_json, write_text

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
CONFIG_FILE, STATUS_FILE, LOG_FILE, LOCK_FILE = "config.yaml", "status.json", "log.jsonl", ".lock"
RUN_FILES = (CONFIG_FILE, STATUS_FILE, LOG_FILE, LOCK_FILE)  # the bookkeeping, beside a job's own outputs
LOG_INTERVAL_S = 1.0  # progress lines at most this often (and always the last one)


class RunBusy(ConfigError):
    """Another process holds the run folder."""


@dataclasses.dataclass
class RunStatus:
    path: Path
    kind: str
    state: str  # one of STATES, or "interrupted" (running, but nobody holds the lock: the process died)
    started: str | None = None
    ended: str | None = None
    error: str | None = None
    command: str | None = None
    summary: dict | None = None

    @property
    def name(self) -> str:
        return self.path.name


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


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
    lock = folder / LOCK_FILE
    if not lock.exists():
        return False
    with lock.open("a") as handle:
        if not _lock(handle):
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


class RunFolder:
    def __init__(self, path: str | Path, kind: str):
        self.path = Path(path)
        self.kind = kind
        self._started_at = 0.0
        self._last_log = 0.0
        self._outcome: str | None = None
        self.summary: dict | None = None  # a job may set a short summary, saved in status.json at the end

    @contextlib.contextmanager
    def hold(self, config: Any = None) -> Iterator["RunFolder"]:
        """Take the folder for this process; write config.yaml and status.json; record how the job ends."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / LOCK_FILE).open("a+") as handle:
            if not _lock(handle, attempts=10):  # a moment's grace: list_runs probes locks too
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise RunBusy(f"{self.path} is in use by {holder}; wait for it to finish or choose another "
                              "output folder")
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {_now()}\n")
            handle.flush()
            remove_stale_temporaries(self.path)
            yield from self._run(config)

    def _run(self, config: Any) -> Iterator["RunFolder"]:
        command = None
        if config is not None:
            write_text(self.path / CONFIG_FILE, config_to_yaml(config))
            with contextlib.suppress(TypeError, ValueError):  # a config that has no verb or no flag form
                command = shell_line(config)
        self._started_at = time.time()
        base = {"kind": self.kind, "started": _now(), "pid": os.getpid(), "command": command}
        self._write_status({**base, "state": "running"})
        try:
            yield self
        except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM turned into it (the Tune tab's Abort)
            self._write_status({**base, "state": "aborted", "ended": _now(), "error": str(error) or "stopped"})
            raise
        except BaseException as error:
            message = " ".join(str(error).split())[:500] or type(error).__name__
            self._write_status({**base, "state": "failed", "ended": _now(), "error": message})
            raise
        self._write_status({**base, "state": self._outcome or "done", "ended": _now(), "summary": self.summary})

    def mark_aborted(self) -> None:
        """The job stopped early on request but returned normally (its partial work is kept)."""
        self._outcome = "aborted"

    def _write_status(self, status: dict) -> None:
        write_json(self.path / STATUS_FILE, {k: v for k, v in status.items() if v is not None})

    def log(self, **event: Any) -> None:
        append_line(self.path / LOG_FILE, {"time": round(time.time(), 3), **event})

    def progress(self, done: int, total: int, **metrics: Any) -> None:
        """A progress event (step, total, ETA, metrics), at most once per LOG_INTERVAL_S and always at the end."""
        now = time.time()
        if done < total and now - self._last_log < LOG_INTERVAL_S:
            return
        self._last_log = now
        elapsed = now - self._started_at if self._started_at else 0.0
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


def read_status(folder: str | Path) -> RunStatus | None:
    folder = Path(folder)
    try:
        data = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    state = data.get("state", "queued")
    if state == "running" and not lock_is_held(folder):
        state = "interrupted"
    return RunStatus(folder, data.get("kind", "?"), state, data.get("started"), data.get("ended"), data.get("error"),
                     data.get("command"), data.get("summary"))


def read_log(folder: str | Path) -> list[dict]:
    return read_jsonl(Path(folder) / LOG_FILE)


def list_runs(root: str | Path, kind: str | None = None, depth: int = 4) -> list[RunStatus]:
    """Run folders under `root` (a workspace), newest first; only those of `kind` when given."""
    root = Path(root)
    found = []
    for level in range(1, depth + 1):
        for status_file in root.glob("/".join(["*"] * level) + "/" + STATUS_FILE):
            status = read_status(status_file.parent)
            if status is not None and (kind is None or status.kind == kind):
                found.append(status)
    return sorted(found, key=lambda s: (s.started or "", str(s.path)), reverse=True)


def describe(status: RunStatus) -> str:
    """One line for a terminal or the studio."""
    text = f"{status.name}: {status.state}"
    if status.started:
        text += f" (started {status.started}" + (f", ended {status.ended})" if status.ended else ")")
    if status.error:
        text += f" — {status.error}"
    return text


__all__ = ["Progress", "RunBusy", "RunFolder", "RunStatus", "STATES", "describe", "list_runs",
           "read_log", "read_status"]


def add_parser(subparsers) -> None:
    """`qinstruct runs`: the run folders under a workspace, newest first."""
    parser = subparsers.add_parser("runs", help="list the runs (batches, conversions, worlds...) under a workspace")
    parser.add_argument("--workspace", default=None, help="the workspace (default ./workspace or $QINSTRUCT_HOME)")
    parser.add_argument("--kind", default=None, help="only this kind (corrupt, convert, demo-world, ...)")
    parser.add_argument("--json", action="store_true", help="print a JSON list of the status files")
    parser.set_defaults(func=_list_command)


def _list_command(args) -> int:
    from .workspace import default_workspace

    runs = list_runs(args.workspace or default_workspace(), args.kind)
    if args.json:
        print(json.dumps([{**dataclasses.asdict(r), "path": str(r.path)} for r in runs]))
    else:
        for status in runs:
            print(f"{status.kind:12s} {describe(status)}  [{status.path}]")
    return 0
