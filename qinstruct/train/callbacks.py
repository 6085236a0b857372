"""The run folder's log.jsonl during training: step, total, loss, eval loss, lr, tokens/s, ETA, memory."""
from __future__ import annotations

import sys
import time

from transformers import TrainerCallback

from ..runs import Progress, RunFolder, throttle


def memory_gib() -> float | None:
    """Peak GPU memory of this process, or its resident memory on the CPU."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return round(torch.cuda.max_memory_allocated() / 2**30, 2)
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 2**20, 2)
    except OSError:
        pass
    return None


def log_line(event: dict) -> str:
    parts = [f"step {event['step']}/{event['total']}"]
    parts += [f"{name} {event[key]:.4f}" for key, name in (("loss", "loss"), ("eval_loss", "eval loss"))
              if key in event]
    if event.get("tokens_per_s"):
        parts.append(f"{event['tokens_per_s']:,.0f} tokens/s")
    if event.get("eta_s") is not None:
        parts.append(f"ETA {event['eta_s']:.0f} s")
    return " · ".join(parts)


class RunLogCallback(TrainerCallback):
    """Writes one line per logging step into the run folder (process 0 only) and calls `progress`."""

    def __init__(self, run: RunFolder | None, collator, progress: Progress | None = None):
        self.run, self.collator, self.progress = run, collator, progress
        self.started = time.perf_counter()
        self.first_step: int | None = None
        self.tokens_at_start = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()
        self.first_step = state.global_step  # a resumed run starts here
        self.tokens_at_start = self.collator.tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.run is None or not state.is_world_process_zero or not logs or not (
                "loss" in logs or "eval_loss" in logs):
            return  # the end-of-training summary repeats what the run's own lines say
        elapsed = time.perf_counter() - self.started
        done = state.global_step - (self.first_step or 0)
        remaining = max(state.max_steps - state.global_step, 0)
        tokens = (self.collator.tokens_seen - self.tokens_at_start) * args.world_size
        event = {"step": state.global_step, "total": state.max_steps, "epoch": round(state.epoch or 0, 3),
                 "elapsed_s": round(elapsed, 2), "eta_s": round(elapsed / done * remaining, 1) if done else None,
                 "tokens_per_s": round(tokens / elapsed, 1) if elapsed > 0 else None, "memory_gib": memory_gib()}
        for key, name in (("loss", "loss"), ("eval_loss", "eval_loss"), ("learning_rate", "lr"),
                          ("grad_norm", "grad_norm")):
            if key in logs:
                event[name] = logs[key]
        self.run.log(**event)
        if not sys.stderr.isatty():  # a terminal has the progress bar; a log file (the Tune tab's) gets lines
            print(log_line(event), file=sys.stderr, flush=True)

    def on_step_end(self, args, state, control, **kwargs):
        throttle()
        if self.progress is not None and state.is_world_process_zero:
            self.progress(state.global_step, state.max_steps)
