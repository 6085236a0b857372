"""A job's environment: OpenMP threads that sleep while they wait, so that jobs sharing the cores do not starve."""
from qinstruct.jobs.process import child_environment


def test_jobs_wait_passively_unless_the_user_said_otherwise(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert child_environment({})["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's own choice wins
    assert child_environment({})["OMP_WAIT_POLICY"] == "ACTIVE"
