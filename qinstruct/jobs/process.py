"""Processes of jobs: the one place that starts them, and how we know a pid is still the process we started.

A pid alone is not an identity: once a process ends, the kernel hands its number to the next one.  A job's status
records its pid *and* the process's start time (`/proc/PID/stat`, field 22, clock ticks since boot); a signal is
sent only when both still match, so an abort can never hit an unrelated process that got a reused pid.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the folder holding the qinstruct package


def process_identity(pid: int) -> str | None:
    """The process's start time as the kernel counts it (None: no such process, or a zombie)."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    if not fields or fields[0] == "Z":  # finished, not yet reaped by its parent: not running
        return None
    return fields[19] if len(fields) > 19 else None


def is_same_process(pid: int | None, identity: str | None) -> bool:
    """Whether `pid` is still the process recorded with `identity` (its start time)."""
    if not pid or not identity:
        return False
    return process_identity(pid) == identity


def signal_job(pid: int, identity: str, signum: int, group: bool) -> bool:
    """Send `signum` to the job (its whole process group when it leads one) only if `pid` is still that job;
    returns whether a signal was sent."""
    if not is_same_process(pid, identity):
        return False
    try:
        if group and os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, identity: str, timeout_s: float) -> bool:
    """Wait until the process is gone (True) or the timeout passes (False)."""
    deadline = time.monotonic() + timeout_s
    while is_same_process(pid, identity):
        _reap()
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


_children: list[subprocess.Popen] = []  # started here: polled so that finished ones do not linger as zombies


def _reap() -> None:
    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)


# Jobs share the machine's cores with each other and with the studio's own chat: OpenMP threads that spin while
# they wait took the cores from the others (the Tune demo beside another training: 110 s instead of 45 s on 2
# cores; alone it is the same within noise, BENCHMARKS.md).  A user's own setting wins.
SHARING_CORES = {"OMP_WAIT_POLICY": "PASSIVE"}


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment plus `extra`, with this checkout on the path (the child imports the same
    code, whatever folder it starts in)."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**SHARING_CORES, **os.environ, "PYTHONPATH": path, **extra}


def spawn_job(argv: list[str], log_file: Path, env: dict[str, str]) -> tuple[int, str]:
    """`python -m qinstruct.jobs.child ARGV` (KIND CONFIG) in a new session (its own process group, so an abort
    reaches its workers too), output appended to `log_file`; returns its pid and identity.  An argument list,
    never a shell."""
    _reap()
    with Path(log_file).open("ab") as output:
        child = subprocess.Popen([sys.executable, "-m", "qinstruct.jobs.child", *argv], stdout=output,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_environment(env),
                                 start_new_session=True)
    _children.append(child)
    identity = process_identity(child.pid)
    deadline = time.monotonic() + 5
    while identity is None and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # /proc appears with the process; this loop only covers a slow fork
        identity = process_identity(child.pid)
    return child.pid, identity or ""


def run_workers(argv: list[str], env: dict[str, str]) -> int:
    """A job's own worker processes (`accelerate launch` for a multi-process training): run them to the end in
    the job's process group and return their exit status."""
    return subprocess.run(argv, env=child_environment(env), check=False).returncode
