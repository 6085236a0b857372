"""What every tab that starts long jobs shares: the jobs run in their own processes (qinstruct.jobs), and a tab
only watches them -- from their run folders, so a reloaded page, another browser or a restarted studio sees
the same -- with one confirmation before a destructive button."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr

from qinstruct.jobs.view import JobView

from .context import AppContext

POLL_S = 0.5
# Abort asks once; a cancelled question sends no request ("" reaches the handler, which says nothing was done).
CONFIRM_ABORT_JS = "(run) => (run && confirm(`Abort ${run}? It stops now; Resume continues it later.`)) ? run : ''"


def follow(ctx: AppContext, folder: Path, actor: str | None, timeout_s: float = 3600) -> Iterator[JobView]:
    """The job's view every POLL_S until it has ended (a watcher only: closing the page leaves the job running)."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = ctx.jobs.view(folder, actor)
        if job is None:
            return
        yield job
        if not job.status.live or time.monotonic() > deadline:
            return
        time.sleep(POLL_S)


def not_confirmed(run) -> bool:
    """The confirmation was declined (the page's script sent an empty name)."""
    return run == ""


def run_choices(ctx: AppContext, actor: str | None, jobs: tuple[type, ...], under: Path) -> list[str]:
    """The names of the runs of these jobs (config classes) under a folder that `actor` may see, newest first."""
    return [status.name for status in ctx.jobs.jobs(actor, jobs, under)]


def latest_live(ctx: AppContext, actor: str | None, jobs: tuple[type, ...], under: Path) -> str | None:
    """The actor's newest run still queued or running (what a reloaded page re-attaches to)."""
    return next((status.name for status in ctx.jobs.jobs(actor, jobs, under) if status.live), None)


def run_folder(under: Path, name) -> Path | None:
    """The folder of a run a page names (a batch, a conversion): a plain name under `under`, never a path that
    leads elsewhere (None: no name, or not a plain one)."""
    from qinstruct.workspace import safe_name

    if not name or not isinstance(name, str) or safe_name(name, "") != name:
        return None
    return under / name


def chosen_run(ctx: AppContext, actor: str | None, jobs: tuple[type, ...], under: Path, run) -> Path:
    """The folder of a run named in the page: one the actor may see, never a path."""
    if not run or run not in run_choices(ctx, actor, jobs, under):
        raise gr.Error("Choose one of your runs from the list.")
    return under / run


def batch_step(ctx: AppContext, folder: Path | None, actor: str | None, drawn,
               ended: Callable[[JobView], tuple[str, object]]) -> tuple:
    """One tick of a page's timer over the batch it started: (text, extra output, drawn, timer).  While the job
    runs, its line; once it has ended, what `ended` makes of it (the summary and, say, a download), and the
    timer stops; unchanged: nothing is redrawn."""
    job = ctx.jobs.view(folder, actor) if folder else None
    if job is None:
        return gr.skip(), gr.skip(), drawn, gr.Timer(active=False)
    key = (job.state, job.step)
    if key == drawn:
        return gr.skip(), gr.skip(), drawn, gr.skip()
    if job.status.live:
        return job.line(), gr.skip(), key, gr.skip()
    return (*ended(job), key, gr.Timer(active=False))


def stop_step(ctx: AppContext, folder: Path | None, actor: str | None, confirmed, nothing: str) -> str:
    """The Stop button of a page's batch: asked once; only the actor's own job."""
    if not_confirmed(confirmed):
        return "Not stopped."
    if folder is None:
        return nothing
    return ctx.jobs.abort(folder, actor)
