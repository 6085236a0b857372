"""One user cannot starve the others: a queued job holds no process, each user has caps on running and waiting
jobs, the next slot goes to the user with the fewest jobs busy, and a job started from a shell in the workspace
counts toward the limit."""
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from qinstruct.config import config_to_yaml
from qinstruct.jobs.launcher import Launcher
from qinstruct.jobs.waiting import Pending, dispatch_order, next_to_start
from qinstruct.runs import RunBusy, read_status

from .test_launcher import data, evaluation, slow, state, wait_for  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]


def pending(ticket: int, owner: str | None) -> Pending:
    return Pending(ticket, f"/runs/{owner}-{ticket}", owner)


def test_the_next_slot_goes_to_the_user_with_the_fewest_jobs_busy():
    flood = [pending(k, "c") for k in range(1, 21)]
    late = [pending(21, "a"), pending(22, "a"), pending(23, None)]
    order = dispatch_order(flood + late, Counter({"c": 1}), per_user=1)
    assert [job.ticket for job in order[:4]] == [23, 21, 22, 1]  # the fewest waiting first; c, flooding, last
    assert next_to_start(flood, Counter({"c": 1}), per_user=1) is None  # c at their limit waits for their own
    assert next_to_start(flood + late, Counter({"c": 1}), per_user=1).ticket == 23
    assert [j.ticket for j in dispatch_order(flood[:3], Counter(), per_user=None)] == [1, 2, 3]


def test_queued_jobs_hold_no_process_and_a_flood_is_capped(data, tmp_path, slow):
    jobs = Launcher(tmp_path, limit=1, per_user=1, queued_per_user=2)
    mine = [tmp_path / "users" / "c" / "evals" / f"c{k}" for k in range(3)]
    assert jobs.start(evaluation(data, mine[0]), owner="c") == "c0 started"
    wait_for(lambda: state(mine[0]) == "running")
    for folder in mine[1:]:
        assert jobs.start(evaluation(data, folder), owner="c") == f"{folder.name} queued: it starts once a slot is free"
    for folder in mine[1:]:
        status = read_status(folder)
        assert status.state == "queued" and status.pid is None and status.pending  # no process waits
    with pytest.raises(RunBusy, match=r"you already have 2 job\(s\) waiting for a slot \(at most 2 here\)"):
        jobs.start(evaluation(data, tmp_path / "users" / "c" / "evals" / "c3"), owner="c")
    assert not (tmp_path / "users" / "c" / "evals" / "c3").exists()  # a refusal writes nothing
    theirs = tmp_path / "users" / "a" / "evals" / "a0"
    jobs.start(evaluation(data, theirs), owner="a")
    assert jobs.view(theirs, "a").waiting_behind == 0  # next in line, before c's two
    assert jobs.view(mine[2], "c").waiting_behind == 2
    jobs.abort(mine[0], "c")
    wait_for(lambda: state(theirs) == "running", timeout=60)
    assert state(mine[1]) == "queued" and read_status(mine[1]).pid is None
    assert jobs.abort(mine[2], "c").startswith("c2 aborted")  # leaves the line; it never runs
    assert read_status(mine[2]).pid is None and not list((tmp_path / ".jobs" / "pending").glob("*"))[1:]
    for folder in (theirs, mine[1]):
        jobs.abort(folder)


def test_a_job_started_from_a_shell_in_the_workspace_takes_a_slot(data, tmp_path, slow):
    jobs = Launcher(tmp_path, limit=1)  # writes .jobs/limit: the workspace's limit, for shells too
    shell_run = tmp_path / "evals" / "from-a-shell"
    shell_run.mkdir(parents=True)
    (tmp_path / "job.yaml").write_text(config_to_yaml(evaluation(data, shell_run)))
    shell = subprocess.Popen([sys.executable, "-m", "qinstruct", "eval", "a3", "--config", str(tmp_path / "job.yaml")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(lambda: state(shell_run) == "running")
        assert jobs.running() == 1
        launched = tmp_path / "evals" / "launched"
        assert jobs.start(evaluation(data, launched)) == "launched queued: it starts once a slot is free"
        time.sleep(1.5)
        assert state(launched) == "queued" and read_status(launched).pid is None
        assert jobs.abort(shell_run).startswith("from-a-shell aborted")
        wait_for(lambda: state(launched) == "running", timeout=60)  # the dispatcher starts it as the slot frees
        jobs.abort(launched)
    finally:
        if shell.poll() is None:
            shell.kill()
