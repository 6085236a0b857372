#!/usr/bin/env python
"""How long the Tune tab's demo run takes, start to finish, as the studio runs it.

A fresh workspace gets what the studio's first start gives it (the demo world at its default size, the shipped
micro models), the demo's data is prepared as the tab's button does (the offline conversion, a job), then the
tab's demo form -- exactly the values the Tune tab opens with -- is started through the job launcher and timed
until its run folder says done: process start, data, every step, the eval losses, the saved model.

    .venv/bin/python -m scripts.bench_tune_demo [--json OUT] [--keep DIR] [--beside-training]

Run it on an idle machine: the figure is the one a user gets.  --beside-training times it while another training
(the same preset, 400 steps, its own job) runs on the same 2 cores: how gracefully the demo degrades.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def wait_done(launcher, folder: Path) -> float:
    started = time.perf_counter()
    while True:
        job = launcher.view(folder)
        if job is not None and not job.status.live:
            if job.state != "done":
                raise SystemExit(f"{folder.name}: {job.state}: {job.error}")
            return time.perf_counter() - started
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--keep", help="use (and keep) this workspace instead of a temporary one")
    parser.add_argument("--beside-training", action="store_true", help="time it while another training runs")
    parser.add_argument("--before", action="store_true", help="the preset as it was before the job system's issue: "
                        "an eval loss every 20 steps over every held-out item (1,320), for the ratio")
    args = parser.parse_args(argv)

    from app.context import AppContext
    from app.tabs import tune
    from qinstruct.demo.shipped import install
    from qinstruct.demo.world import ensure_world
    from qinstruct.jobs.view import view
    from qinstruct.workspace import Workspace

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-tune-"))
    workspace = Workspace.open(root)
    ensure_world(workspace.demo_world)  # the studio's first start
    install(workspace.models)
    ctx = AppContext.open(workspace, max_jobs=2)
    prepare = ctx.jobs.start(tune.demo_conversion(ctx), None)
    prepared_s = wait_done(ctx.jobs, Path(tune.demo_conversion(ctx).out))
    values = tune.demo_values(ctx)
    if args.before:
        values.update(eval_steps=20, eval_items=0)
    from qinstruct.config.schema import field_default, job_fields

    fields = {f.name: f for f in job_fields(tune.TrainConfig)}
    row = [values.get(n, field_default(fields[n])) for n in tune.field_names()]
    row = ["\n".join(v) if isinstance(v, list) else v for v in row]
    name = "bench-demo-before" if args.before else "bench-demo-beside" if args.beside_training else "bench-demo"
    config = tune.config_of(ctx, name, tuple(row))
    other = None
    if args.beside_training:
        steps = tune.field_names().index("max_steps")
        other = tune.config_of(ctx, "other-training", tuple(row[:steps] + [400] + row[steps + 1:]))
        ctx.jobs.start(other, None)
        while (running := view(other.output_dir)) is None or running.step < 1:  # it trains when the demo starts
            time.sleep(0.2)
    ctx.jobs.start(config, None)
    seconds = wait_done(ctx.jobs, Path(config.output_dir))
    if other is not None:
        ctx.jobs.abort(Path(other.output_dir), None)
    job = view(config.output_dir)
    train = [loss for _, loss in job.losses[max(job.losses)]]
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "prepare_demo_data_s": round(prepared_s, 1), "demo_run_s": round(seconds, 1),
              "steps": job.step, "eval_losses": sum(len(v) for v in job.eval_losses.values()),
              "tokens_per_s": job.tokens_per_s, "last_loss": job.last_loss, "last_eval_loss": job.last_eval_loss,
              "eval_loss_curve": [(step, round(loss, 3)) for step, loss in job.eval_losses[max(job.eval_losses)]],
              "train_loss_first_10_mean": round(sum(train[:10]) / 10, 3),
              "train_loss_last_10_mean": round(sum(train[-10:]) / 10, 3),
              "beside_training": args.beside_training,
              "mixture": job.mixture, "prepare": prepare}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
