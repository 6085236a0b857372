"""Run folders: one job per folder, status as the job ends, an append-only log, listing for the studio."""
import multiprocessing
import os
import signal
import time

import pytest

from qinstruct.demo.config import WorldConfig
from qinstruct.fileio import WriteError, read_jsonl, write_text
from qinstruct.runs import RunBusy, RunFolder, list_runs, read_log, read_status


def test_states_of_a_finished_failed_and_aborted_job(tmp_path):
    config = WorldConfig(out=str(tmp_path / "a"), images=5)
    with RunFolder(tmp_path / "a", "demo-world").hold(config) as run:
        run.progress(1, 2)
        run.progress(2, 2)
        run.summary = {"images": 5}
    status = read_status(tmp_path / "a")
    assert status.state == "done" and status.summary == {"images": 5} and status.ended
    assert status.command == f"qinstruct demo world --out {tmp_path / 'a'} --images 5"
    assert (tmp_path / "a" / "config.yaml").read_text().startswith("# qinstruct demo world --config")
    events = read_log(tmp_path / "a")
    assert [e["step"] for e in events] == [1, 2] and events[-1]["eta_s"] == 0.0

    with pytest.raises(ValueError):
        with RunFolder(tmp_path / "b", "x").hold():
            raise ValueError("disk\nfull")
    assert read_status(tmp_path / "b").state == "failed" and read_status(tmp_path / "b").error == "disk full"

    with pytest.raises(KeyboardInterrupt):
        with RunFolder(tmp_path / "c", "x").hold():
            raise KeyboardInterrupt("stopped by the user")
    assert read_status(tmp_path / "c").state == "aborted"
    assert [s.name for s in list_runs(tmp_path, "x")] == ["c", "b"]  # newest first, only that kind


def _hold_forever(folder):
    with RunFolder(folder, "x").hold():
        time.sleep(60)


def test_second_holder_is_told_who_holds_it_and_a_killed_run_is_interrupted(tmp_path):
    folder = tmp_path / "run"
    process = multiprocessing.get_context("spawn").Process(target=_hold_forever, args=(folder,))
    process.start()
    deadline = time.time() + 30
    while read_status(folder) is None and time.time() < deadline:
        time.sleep(0.05)
    assert read_status(folder).state == "running"
    with pytest.raises(RunBusy, match=f"is in use by pid {process.pid}"):
        with RunFolder(folder, "x").hold():
            pass
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    assert read_status(folder).state == "interrupted"  # status.json still says running; the lock is free
    with RunFolder(folder, "x").hold():  # the next run takes the folder over
        pass
    assert read_status(folder).state == "done"


def test_log_lines_stay_whole_and_a_torn_line_is_dropped(tmp_path):
    run = RunFolder(tmp_path, "x")
    for step in range(50):
        run.log(step=step, text="é" * 100)
    with (tmp_path / "log.jsonl").open("ab") as handle:
        handle.write(b'{"step": 50, "te')  # a kill in the middle of a write
    assert [e["step"] for e in read_log(tmp_path)] == list(range(50))
    assert len(read_jsonl(tmp_path / "log.jsonl", repair=True)) == 50
    assert (tmp_path / "log.jsonl").read_bytes().endswith(b"\n")


def test_full_disk_keeps_the_previous_file(tiny_disk):
    target = tiny_disk / "items.json"
    write_text(target, "good")
    with pytest.raises(WriteError, match="No space left on device"):
        write_text(target, "x" * 200_000)  # larger than the 64 KiB disk
    assert target.read_text() == "good" and not list(tiny_disk.glob(".*.tmp"))


def test_runs_command_lists_the_workspace(tmp_path, capsys):
    from qinstruct.cli import main

    with RunFolder(tmp_path / "convert" / "one", "convert").hold():
        pass
    with RunFolder(tmp_path / "corrupt" / "batches" / "two", "corrupt").hold():
        pass
    assert main(["runs", "--workspace", str(tmp_path), "--kind", "convert", "--json"]) == 0
    (listed,) = __import__("json").loads(capsys.readouterr().out)
    assert listed["kind"] == "convert" and listed["state"] == "done" and listed["path"].endswith("convert/one")


def test_a_symlink_loop_or_a_link_to_a_run_lists_each_run_once(tmp_path, capsys):
    import json

    from qinstruct.cli import main

    workspace = tmp_path / "ws"
    with RunFolder(workspace / "runs" / "a", "x").hold():
        pass
    os.symlink(workspace, workspace / "runs" / "loop")  # a link to an ancestor: a loop
    os.symlink(workspace / "runs" / "a", workspace / "latest")  # a link to a run
    os.symlink(workspace / "runs", workspace / "runs" / "a" / "up")  # a loop inside a run folder
    assert [s.path for s in list_runs(workspace)] == [workspace / "runs" / "a"]
    assert main(["runs", "--workspace", str(workspace), "--json"]) == 0
    assert [r["path"] for r in json.loads(capsys.readouterr().out)] == [str(workspace / "runs" / "a")]
    os.symlink(workspace, tmp_path / "elsewhere")  # the workspace itself reached by a link is listed as given
    assert [s.path for s in list_runs(tmp_path / "elsewhere")] == [tmp_path / "elsewhere" / "runs" / "a"]
