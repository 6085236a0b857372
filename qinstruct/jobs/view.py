"""What a job looks like from outside, read from its run folder alone (status.json, log.jsonl, stdout.log): the
one way every tab, a reloaded page and `qinstruct runs` watch a job."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..runs import STDOUT_FILE as STDOUT
from ..runs import RunStatus, read_log, read_status

TRACEBACK = re.compile(r"^Traceback \(most recent call last\):$")


@dataclass
class JobView:
    status: RunStatus
    step: int = 0
    total: int = 0
    eta_s: float | None = None
    tokens_per_s: float | None = None
    memory_gib: float | None = None
    losses: dict[int, list[tuple[int, float]]] = field(default_factory=dict)  # per attempt: a restart is a new line
    eval_losses: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    mixture: str = ""
    log_tail: str = ""
    waiting_behind: int | None = None  # queued: jobs ahead of it
    starting: bool = False  # a resumed attempt that has not logged a step yet

    @property
    def name(self) -> str:
        return self.status.name

    @property
    def path(self) -> Path:
        return self.status.path

    @property
    def state(self) -> str:
        return self.status.state

    @property
    def error(self) -> str | None:
        return self.status.error

    @property
    def last_loss(self) -> float | None:
        latest = self.losses.get(max(self.losses), []) if self.losses else []
        return latest[-1][1] if latest else None

    @property
    def last_eval_loss(self) -> float | None:
        latest = self.eval_losses.get(max(self.eval_losses), []) if self.eval_losses else []
        return latest[-1][1] if latest else None

    def line(self) -> str:
        """One line: name, state, progress, the last metrics, the ETA (Markdown)."""
        parts = [f"**{self.name}**: {self.state}"]
        if self.state == "queued" and self.waiting_behind is not None:
            parts.append("next in line" if self.waiting_behind == 0 else f"{self.waiting_behind} job(s) ahead")
        if self.starting:  # "step 28 / 80 · ETA 145 s" stood for 45 s after a Resume, then fell back to 21
            parts.append(f"attempt {self.status.attempt}: loading")
        elif self.total:
            parts.append(f"step {self.step:,} / {self.total:,}")
        if self.last_loss is not None:
            parts.append(f"loss {self.last_loss:.4f}")
        if self.last_eval_loss is not None:
            parts.append(f"eval loss {self.last_eval_loss:.4f}")
        if self.tokens_per_s:
            parts.append(f"{self.tokens_per_s:,.0f} tokens/s")
        if self.eta_s is not None and self.state == "running":
            parts.append(f"ETA {self.eta_s:,.0f} s")
        if self.memory_gib is not None:
            parts.append(f"{self.memory_gib:.2f} GiB")
        if self.status.attempt > 1 and not self.starting:
            parts.append(f"attempt {self.status.attempt}")
        return " · ".join(parts) + (f"  \n⚠ {self.error}" if self.error else "")


def log_tail(folder: Path, lines: int = 12) -> str:
    """The last lines of the job's output, a traceback folded into one line pointing at the full text."""
    try:
        with (folder / STDOUT).open("rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - 40_000))
            text = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    shown, skipping = [], False
    for line in text:
        if TRACEBACK.match(line):
            shown.append(f"(a traceback: kept in {folder.name}/{STDOUT})")
            skipping = True
            continue
        if skipping and (line.startswith(" ") or not line.strip()):
            continue  # the traceback's frames; its last line (the error) is shown
        skipping = False
        shown.append(line)
    return "\n".join(shown[-lines:])


def view(folder: str | Path, tail_lines: int = 12) -> JobView | None:
    """The job in `folder` as its files say (None: no run there)."""
    folder = Path(folder)
    status = read_status(folder)
    if status is None:
        return None
    job = JobView(status)
    stepped = 0  # the attempt that logged the last step
    for event in read_log(folder):
        attempt = event.get("attempt", 1) if isinstance(event.get("attempt", 1), int) else 1
        if event.get("event") == "mixture":
            job.mixture = str(event.get("summary", ""))
        step, total = event.get("step"), event.get("total")
        if not isinstance(step, int) or not isinstance(total, int):
            continue
        job.step, job.total, stepped = step, total, attempt
        job.eta_s = event.get("eta_s")
        job.tokens_per_s = event.get("tokens_per_s") or job.tokens_per_s
        job.memory_gib = event.get("memory_gib", job.memory_gib)
        if isinstance(event.get("loss"), (int, float)):
            job.losses.setdefault(attempt, []).append((step, float(event["loss"])))
        if isinstance(event.get("eval_loss"), (int, float)):
            job.eval_losses.setdefault(attempt, []).append((step, float(event["eval_loss"])))
    if stepped and status.live and status.attempt > stepped:
        job.starting = True  # resumed, no step of its own yet: the last attempt's step and ETA are not its own
        job.eta_s = None
    job.losses, job.eval_losses = superseded(job.losses), superseded(job.eval_losses)
    job.log_tail = log_tail(folder, tail_lines)
    return job


def superseded(curves: dict[int, list[tuple[int, float]]]) -> dict[int, list[tuple[int, float]]]:
    """Each step once: an attempt that continued from a checkpoint redoes the steps after it, so an earlier
    attempt keeps only the steps before the later one's first (the log itself keeps every line it wrote).  An
    attempt that started over from step 1 is another line beside the earlier ones, not a continuation."""
    out = {}
    for attempt, points in curves.items():
        later = [curve[0][0] for other, curve in curves.items() if other > attempt and curve and curve[0][0] > 1]
        cut = min(later, default=None)
        kept = [point for point in points if cut is None or point[0] < cut]
        if kept:
            out[attempt] = kept
    return out
