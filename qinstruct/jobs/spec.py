"""A JobSpec says everything the job system needs to know about one kind of long job, beside the job's config:
the config class (its COMMAND is the `qinstruct` verb, its KIND the run folder's kind), the function that runs
it (`spec.run(config)`, in the job's own process or straight from the verb), the field naming its run folder,
and what running it again continues from, in words a user can trust.

The registry (registry.py) collects the specs; the CLI's verbs, the launcher's kinds, the run folders' kinds and
the tabs' run lists are all read from it.  A job's path fields are marked on its config (`option(path=...)`)
and confined by the access policy (access.py), once, when the launcher admits the job.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..fileio import iter_jsonl


@dataclass(frozen=True)
class JobSpec:
    kind: str  # status.json's kind: the config's KIND, or eval-NAME
    config: type  # a config dataclass; its COMMAND is the verb
    run: Callable[[Any], int]  # runs (or continues) the job; returns the exit status
    resume_point: Callable[[Path], str]  # "continues from its checkpoint at step 40", "starts over: ..."
    folder_field: str = "out"
    rerun_done: bool = False  # whether a finished run may run again (an evaluation recomputes its summary)

    @property
    def verb(self) -> tuple[str, ...]:
        return tuple(self.config.COMMAND)

    def folder(self, config: Any) -> Path:
        return Path(getattr(config, self.folder_field))


def items_point(file: str, what: str) -> Callable[[Path], str]:
    """The resume point of a job that appends one line per finished item to `file` (`what`: "images")."""
    def point(folder: Path) -> str:
        done = sum(1 for _ in iter_jsonl(folder / file, True))  # counted line by line: 77K lines stay on disk
        return f"continues after the {done:,} {what} already done" if done else f"starts from the first {what[:-1]}"
    return point


__all__ = ["JobSpec", "items_point"]
