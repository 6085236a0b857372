"""A job as its folder says: a resumed attempt shows no step or ETA of the attempt before it."""
import json
import time

from qinstruct.jobs.view import view


def test_a_resumed_attempt_shows_no_step_or_eta_until_it_logs_its_own(tmp_path):
    """After Resume the status line read "step 28 / 80 · ETA 145 s" (the killed attempt's) for the 45 s the new
    process took to load, then fell back to step 21: until the new attempt logs a step, it says it is loading."""
    log = [{"attempt": 1, "step": step, "total": 80, "loss": 5.0 - step / 100, "eta_s": 145.0} for step in range(1, 29)]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(event) + "\n" for event in log))
    status = {"kind": "train", "state": "queued", "attempt": 2, "queued_at": time.time(), "owner": None}
    (tmp_path / "status.json").write_text(json.dumps(status))
    line = view(tmp_path).line()
    assert "attempt 2: loading" in line and "step 28" not in line and "ETA" not in line
    with (tmp_path / "log.jsonl").open("a") as handle:  # its first own step: from the checkpoint at 20
        handle.write(json.dumps({"attempt": 2, "step": 21, "total": 80, "loss": 4.8, "eta_s": 120.0}) + "\n")
    line = view(tmp_path).line()
    assert "step 21 / 80" in line and "loading" not in line and "attempt 2" in line
