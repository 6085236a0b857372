"""The job system: every transition of the state machine, for a training and an evaluation, driven through the
launcher as the studio drives it (each job its own process, throttled where a test needs it in progress)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qinstruct.convert.job import ConvertJobConfig, run_convert_job
from qinstruct.demo.config import WorldConfig
from qinstruct.demo.world import build_world
from qinstruct.eval.a3 import A3Config
from qinstruct.jobs.launcher import Launcher
from qinstruct.jobs.process import process_identity
from qinstruct.jobs.view import view
from qinstruct.runs import RunBusy, RunReused, read_log, read_status
from qinstruct.train.config import TrainConfig


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("jobs-data")
    build_world(WorldConfig(out=str(folder / "world"), images=24, eval_images=8, seed=3))
    run_convert_job(ConvertJobConfig(input=str(folder / "world" / "pathway.jsonl"), out=str(folder / "conv")))
    return {"high": str(folder / "world" / "instruct_content.json"), "low": str(folder / "conv" / "items.json"),
            "root": str(folder / "world"), "mos": str(folder / "world" / "eval" / "mos.json")}


@pytest.fixture
def slow(monkeypatch):
    """Each job step takes a while: long enough to catch a job running, short enough for a test."""
    monkeypatch.setenv("QINSTRUCT_THROTTLE_S", "0.4")


def training(data, out: Path, **changes) -> TrainConfig:
    values = dict(model="tiny:llava", output_dir=str(out), strategy="mix", high_level=[data["high"]],
                  low_level=[f"{data['low']}@48"], image_root=data["root"], max_steps=8, batch_size=4,
                  learning_rate=5e-3, lora_r=8, lora_alpha=16, lora_dropout=0.0, eval_fraction=0.1, save_steps=2,
                  group_by_length=False, gradient_checkpointing=False, warmup_ratio=0.0, device="cpu")
    return TrainConfig(**{**values, **changes})


def evaluation(data, out: Path, **changes) -> A3Config:
    return A3Config(**{"models": ["tiny:llava"], "mos": [f"{data['mos']}=demo"], "image_root": data["root"],
                       "out": str(out), "batch_size": 2, "device": "cpu", **changes})


def wait_for(check, timeout=180.0, every=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(check)


def state(folder: Path) -> str | None:
    status = read_status(folder)
    return status.state if status else None


def step(folder: Path) -> int:
    job = view(folder)
    return job.step if job else 0


def test_a_training_from_queued_to_done_with_its_owner_and_process(data, tmp_path):
    jobs = Launcher(tmp_path, limit=1)
    out = tmp_path / "runs" / "one"
    assert jobs.start(training(data, out, max_steps=4), owner="alice") == "one started"
    wait_for(lambda: state(out) == "done")
    status = json.loads((out / "status.json").read_text())
    assert status["owner"] == "alice" and status["attempt"] == 1 and status["launched"] is True
    assert isinstance(status["pid"], int) and status["pid_start"] and status["kind"] == "train"
    assert (out / "config.yaml").read_text().startswith("# qinstruct train --config")
    assert (out / "model" / "qinstruct.json").is_file()
    assert {e["attempt"] for e in read_log(out)} == {1}
    with pytest.raises(RunBusy, match="is done"):  # a finished training is not started again by mistake
        jobs.start(training(data, out, max_steps=4), owner="alice")
    assert state(out) == "done"  # and the refused start changed nothing


def test_abort_while_queued_and_while_running_then_resume_from_the_checkpoint(data, tmp_path, slow, monkeypatch):
    jobs = Launcher(tmp_path, limit=1)
    first, second = tmp_path / "runs" / "first", tmp_path / "runs" / "second"
    jobs.start(training(data, first, max_steps=40), owner="alice")
    jobs.start(evaluation(data, second), owner="alice")
    wait_for(lambda: state(first) == "running" and step(first) >= 3)
    assert state(second) == "queued" and jobs.view(second, "alice").waiting_behind == 0
    message = jobs.abort(second, "alice")  # queued: its waiting process ends, it never runs
    assert "aborted" in message and state(second) == "aborted"
    assert read_status(second).ended and not (second / "items.jsonl").exists()
    message = jobs.abort(first, "alice")
    assert message.startswith("first aborted") and "Resume continues from its checkpoint at step" in message
    assert state(first) == "aborted"
    stopped = step(first)
    checkpoint = max(int(p.name.split("-")[1]) for p in (first / "checkpoints").glob("checkpoint-*"))
    resumed = jobs.resume(first, "alice")  # right after the abort: not "already running"
    assert resumed == f"first resumes: it continues from its checkpoint at step {checkpoint}"
    monkeypatch.delenv("QINSTRUCT_THROTTLE_S")  # the rest at full speed (a child reads it when it starts)
    wait_for(lambda: state(first) == "done", timeout=300)
    events = [e for e in read_log(first) if "loss" in e]
    assert {e["attempt"] for e in events} == {1, 2} and read_status(first).attempt == 2
    assert min(e["step"] for e in events if e["attempt"] == 2) == checkpoint + 1 <= stopped + 1
    assert jobs.resume(second, "alice") == "second resumes: it starts from the first item"
    wait_for(lambda: state(second) == "done")


def test_resume_without_a_checkpoint_says_it_starts_over(data, tmp_path, slow):
    jobs = Launcher(tmp_path, limit=1)
    out = tmp_path / "runs" / "early"
    jobs.start(training(data, out, max_steps=40, save_steps=100))
    wait_for(lambda: step(out) >= 2)
    assert "Resume starts over from step 1: no checkpoint was saved" in jobs.abort(out)
    assert jobs.resume(out) == "early resumes: it starts over from step 1: no checkpoint was saved before it stopped"
    job = wait_for(lambda: (job := view(out)) and 2 in job.losses and job)
    assert set(job.losses) == {1, 2} and job.losses[2][0][0] == 1  # a new line, not a line going back
    jobs.abort(out)


def test_a_changed_config_is_refused_with_what_differs(data, tmp_path):
    jobs = Launcher(tmp_path)
    out = tmp_path / "evals" / "a3"
    jobs.start(evaluation(data, out, limit=4))
    wait_for(lambda: state(out) == "done")
    with pytest.raises(RunReused, match=r"a3 was started with another config \(limit: 4 -> 6\)"):
        jobs.start(evaluation(data, out, limit=6))
    assert state(out) == "done" and len((out / "items.jsonl").read_text().splitlines()) == 4
    assert jobs.start(evaluation(data, out, limit=4, batch_size=4)) == \
        "a3 resumes: it continues after the 4 items already done"  # the batch size may change
    assert "batch_size: 4" in (out / "config.yaml").read_text()  # and the job reads the new one (a moved endpoint too)
    wait_for(lambda: state(out) == "done")
    stopped = tmp_path / "runs" / "lr"  # the same for a training: a new learning rate is a new run
    jobs.start(training(data, stopped, max_steps=200))
    wait_for(lambda: step(stopped) >= 1)
    jobs.abort(stopped)
    with pytest.raises(RunReused, match="learning_rate: 0.005 -> 0.001"):
        jobs.start(training(data, stopped, max_steps=200, learning_rate=1e-3))
    assert state(stopped) == "aborted"


def test_kill_9_then_resume_continues_from_the_last_checkpoint(data, tmp_path, slow, monkeypatch):
    jobs = Launcher(tmp_path, limit=1)
    out = tmp_path / "runs" / "killed"
    jobs.start(training(data, out, max_steps=12))
    wait_for(lambda: step(out) >= 5)
    os.killpg(read_status(out).pid, signal.SIGKILL)
    wait_for(lambda: state(out) == "interrupted")
    monkeypatch.delenv("QINSTRUCT_THROTTLE_S")
    assert "continues from its checkpoint at step 4" in jobs.resume(out)
    wait_for(lambda: state(out) == "done", timeout=300)
    steps = [(e["attempt"], e["step"]) for e in read_log(out) if "loss" in e]
    assert len(steps) == len(set(steps))  # no step logged twice within an attempt
    assert [s for a, s in steps if a == 2] == list(range(5, 13))


def test_each_user_sees_and_controls_only_their_runs(data, tmp_path, slow):
    jobs = Launcher(tmp_path, limit=2)
    alice, bob = tmp_path / "evals" / "alice-a3", tmp_path / "evals" / "bob-a3"
    jobs.start(evaluation(data, alice), owner="alice")
    jobs.start(evaluation(data, bob), owner="bob")
    wait_for(lambda: state(alice) == "running" and state(bob) == "running")
    assert [s.name for s in jobs.jobs("alice")] == ["alice-a3"] and [s.name for s in jobs.jobs("bob")] == ["bob-a3"]
    assert {s.name for s in jobs.jobs(None)} == {"alice-a3", "bob-a3"}  # the operator sees everyone's
    assert jobs.view(alice, "bob") is None
    for action in (jobs.abort, jobs.resume):
        with pytest.raises(RunBusy, match="no such run of yours"):
            action(alice, "bob")
    with pytest.raises(RunBusy, match="this name is not available"):  # nor take over its name (nor learn whose)
        jobs.start(evaluation(data, alice), owner="bob")
    assert state(alice) == "running"
    assert "aborted" in jobs.abort(alice)  # the operator may
    jobs.abort(bob, "bob")


def test_the_limit_queues_a_third_job_and_starts_it_when_one_ends(data, tmp_path, slow):
    jobs = Launcher(tmp_path, limit=2)
    folders = [tmp_path / "evals" / f"e{k}" for k in range(3)]
    for folder in folders:
        jobs.start(evaluation(data, folder))
    wait_for(lambda: [state(f) for f in folders[:2]] == ["running", "running"])
    time.sleep(1.5)  # the third keeps waiting while both slots are taken
    assert state(folders[2]) == "queued" and jobs.running() == 2
    jobs.abort(folders[0])
    wait_for(lambda: state(folders[2]) == "running")
    for folder in folders[1:]:
        jobs.abort(folder)


def test_a_reused_pid_is_never_signalled(tmp_path):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        wait_for(lambda: process_identity(stranger.pid))
        folder = tmp_path / "runs" / "ghost"
        folder.mkdir(parents=True)
        (folder / "status.json").write_text(json.dumps({  # a queued run whose process died; its pid was reused
            "kind": "train", "state": "queued", "pid": stranger.pid, "pid_start": "1", "launched": True}))
        assert state(folder) == "interrupted"
        assert Launcher(tmp_path).abort(folder) == "ghost is not running (interrupted)"
        assert stranger.poll() is None  # alive: the pid was not its
    finally:
        stranger.kill()
        stranger.wait()


def test_a_launched_job_that_fails_before_running_is_failed_not_queued(data, tmp_path):
    jobs = Launcher(tmp_path)
    out = tmp_path / "runs" / "missing"
    jobs.start(training(data, out, model=str(tmp_path / "no-such-model")))
    wait_for(lambda: state(out) == "failed")
    assert "no-such-model" in read_status(out).error
    assert "(a traceback" not in view(out).log_tail


def test_the_curve_shows_each_step_once_and_a_restart_as_its_own_line():
    from qinstruct.jobs.view import superseded

    continued = superseded({1: [(1, 9.0), (2, 8.0), (3, 7.5), (4, 7.4)], 2: [(3, 7.5), (4, 7.4), (5, 7.0)]})
    assert continued == {1: [(1, 9.0), (2, 8.0)], 2: [(3, 7.5), (4, 7.4), (5, 7.0)]}  # from checkpoint 2
    restarted = superseded({1: [(1, 9.0), (2, 8.0)], 2: [(1, 9.1), (2, 8.1)]})
    assert restarted == {1: [(1, 9.0), (2, 8.0)], 2: [(1, 9.1), (2, 8.1)]}


def test_a_shell_started_run_is_listed_and_only_the_operator_aborts_it(data, tmp_path, slow):
    from qinstruct.config import config_to_yaml

    out = tmp_path / "runs" / "from-a-shell"
    out.mkdir(parents=True)
    (tmp_path / "job.yaml").write_text(config_to_yaml(training(data, out, max_steps=40)))
    shell = subprocess.Popen([sys.executable, "-m", "qinstruct", "train", "--config", str(tmp_path / "job.yaml")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        jobs = Launcher(tmp_path)
        wait_for(lambda: step(out) >= 1)
        status = read_status(out)
        assert status.owner is None and not status.launched and status.pid == shell.pid
        assert [s.name for s in jobs.jobs(None)] == ["from-a-shell"] and jobs.jobs("alice") == []
        with pytest.raises(RunBusy, match="no such run of yours"):
            jobs.abort(out, "alice")
        assert jobs.abort(out).startswith("from-a-shell aborted")  # the operator's
        assert shell.wait(timeout=30) != 0 and state(out) == "aborted"
    finally:
        if shell.poll() is None:
            shell.kill()


def test_the_log_panel_folds_a_traceback_into_one_line(tmp_path):
    from qinstruct.jobs.view import log_tail

    (tmp_path / "stdout.log").write_text("step 1/4 · loss 2.0\nTraceback (most recent call last):\n"
                                         '  File "x.py", line 1, in <module>\n    boom()\n'
                                         "RuntimeError: the disk caught fire\nstep 2/4 · loss 1.5\n")
    tail = log_tail(tmp_path).splitlines()
    assert tail == ["step 1/4 · loss 2.0", f"(a traceback: kept in {tmp_path.name}/stdout.log)",
                    "RuntimeError: the disk caught fire", "step 2/4 · loss 1.5"]
