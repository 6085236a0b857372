"""The one registry of long jobs: every JobSpec, by kind.  The launcher, `qinstruct runs`, the child process and
the tabs read kinds, configs and run functions from here, never from a string of their own."""
from __future__ import annotations

from typing import Any

from ..config import ConfigError
from ..convert.job import CONVERT_JOB
from ..corrupt.batch import CORRUPT_JOB
from ..demo.world import WORLD_JOB
from ..eval import protocols
from ..train.job import TRAIN_JOB
from .spec import JobSpec

JOBS = (CORRUPT_JOB, CONVERT_JOB, TRAIN_JOB, WORLD_JOB)  # and one per evaluation protocol (eval-NAME)


def job_specs() -> dict[str, JobSpec]:
    """Every job by kind: those above, and each evaluation protocol registered so far."""
    return {spec.kind: spec for spec in (*JOBS, *protocols.job_specs())}


def spec_named(kind: str) -> JobSpec:
    specs = job_specs()
    if kind not in specs:
        raise ConfigError(f"{kind}: not a kind of job the launcher runs ({', '.join(specs)})")
    return specs[kind]


def spec_of(config: Any) -> JobSpec:
    """The spec a config is the job of."""
    for spec in job_specs().values():
        if type(config) is spec.config:
            return spec
    raise ConfigError(f"{type(config).__name__}: not a job the launcher runs")


def kinds_of(configs: tuple[type, ...]) -> tuple[str, ...]:
    """The kinds of the jobs with these config classes (a tab's runs)."""
    return tuple(spec.kind for spec in job_specs().values() if spec.config in configs)


__all__ = ["JOBS", "job_specs", "kinds_of", "spec_named", "spec_of"]
