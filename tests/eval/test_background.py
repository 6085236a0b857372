"""The studio's evaluation worker: one job at a time in order, a failing job said and the next one still run."""
import time

import pytest

from qinstruct.demo.world import WorldConfig, build_world
from qinstruct.errors import UserError
from qinstruct.eval.background import EvalWorker
from qinstruct.eval.jobs import A1Config, A3Config


def wait(worker: EvalWorker, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while worker.active() and time.time() < deadline:
        time.sleep(0.05)
    assert not worker.active()


def test_jobs_run_in_order_and_a_failure_does_not_stop_the_worker(tmp_path):
    world = tmp_path / "world"
    build_world(WorldConfig(out=str(world), images=4, eval_images=6, seed=3))
    broken = A1Config(models=["tiny:llava"], questions=str(tmp_path / "missing.json"), out=str(tmp_path / "broken"))
    good = A3Config(models=["tiny:llava"], mos=[f"{world / 'eval' / 'mos.json'}=demo"], image_root=str(world),
                    out=str(tmp_path / "good"))
    worker = EvalWorker()
    worker.submit([broken, good])
    with pytest.raises(UserError, match="good is already being evaluated"):
        worker.submit([good])
    wait(worker)
    failed, done = worker.state(broken.out), worker.state(good.out)
    assert failed.state == "failed" and "missing.json: no such file" in failed.error
    assert done.state == "done" and done.summary["models"]["tiny:llava"]["demo"]["n"] == 6
    assert done.done == done.total == 6 and done.line() == "A3 good: done"
    worker.submit([good])  # finished folders may be run again (a resume: nothing left to do)
    wait(worker)
    assert worker.state(good.out).state == "done"
