"""The job's side of the launcher: `python -m qinstruct.jobs.child KIND RUN/config.yaml`, with QINSTRUCT_JOB in
its environment, waits for a free slot (slots.py: in the order the jobs were started), turns SIGTERM into an
abort, calls `spec.run(config)` -- the same function the job's verb calls from a shell -- and makes sure its run
never stays `queued` once it has ended.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ..errors import exit_status, first_line, stop_on_terminate
from ..fileio import now
from ..runs import RunBusy, read_status, record_process, transition
from .process import process_identity
from .slots import JOB_ENV, SLOT_ENV, wait_for_slot

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


def _settle(folder: Path, state: str, error: str) -> None:
    """The run ended before (or without) running: it must not stay queued.  Only this process's own run."""
    status = read_status(folder)
    if status is not None and status.state == "queued" and status.pid == os.getpid():
        try:
            transition(folder, state, expect_pid=os.getpid(), ended=now(), error=error)
        except RunBusy:
            pass  # someone else moved it on in the meantime: their word stands


def run_as_job(context: dict, call: Callable[[], int]) -> int:
    """Run the verb (`call`) as the launched job `context` describes."""
    stop_on_terminate()
    folder = context["run"]
    record_process(folder, os.getpid(), process_identity(os.getpid()) or "")  # the launcher may not have yet
    try:
        _held.append(wait_for_slot(context["slots"], context["limit"], context["ticket"], folder))
        os.environ[SLOT_ENV] = "1"  # its workers (accelerate's) and its run folder take no other
        return call()
    except KeyboardInterrupt:
        _settle(folder, "aborted", "aborted while queued")
        raise
    except BaseException as error:
        _settle(folder, "failed", first_line(error))
        raise
    finally:
        _settle(folder, "failed", "the job ended before it started")


def main(argv: list[str]) -> int:
    """Run the job of kind KIND whose config is CONFIG (argv: [KIND, CONFIG]) as the launch in the environment."""
    from ..config import load_config
    from .registry import spec_named

    kind, config_file = argv
    context = job_context()
    spec = spec_named(kind)

    def job() -> int:
        config = load_config(spec.config, Path(config_file))
        return spec.run(config)
    return exit_status((lambda: run_as_job(context, job)) if context is not None else job)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
