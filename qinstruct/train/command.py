"""`qinstruct train`: instruction tuning with the paper's strategies, in a run folder (resumable)."""
from __future__ import annotations

import argparse
import os
import signal
import sys

from ..config.cli import add_job_parser

DESCRIPTION = """Tune a vision-language model on instruction data with the paper's strategies (mix, after, replace,
or the high-level-only baseline), LoRA or full.  OUTPUT_DIR is a run folder: run the same command again after an
interruption (even kill -9) and training continues from the last checkpoint; a finished run is not trained
again.  --launcher accelerate runs it on several processes or machines (DeepSpeed ZeRO-2/3, FSDP).
Exit status: 0 trained, 2 bad arguments or a finished run, 130 stopped (SIGINT or SIGTERM; run again to resume)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .config import TrainConfig

    add_job_parser(subparsers, "train", TrainConfig, run, help="instruction tuning (mix / after / replace), resumable",
                   description=DESCRIPTION)


def _stop_on_terminate() -> None:
    """SIGTERM (the Tune tab's Abort) ends the run like Ctrl-C: recorded as aborted, resumable."""
    def stop(signum, frame):
        raise KeyboardInterrupt("stopped by SIGTERM")
    signal.signal(signal.SIGTERM, stop)


def _quiet_libraries() -> None:
    """Deprecation notes of the libraries are not the user's to act on; the run's log stays readable."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|accelerate)\.")
    warnings.filterwarnings("ignore", message="Could not find a config file in", module=r"peft\.")


def run(config, args: argparse.Namespace) -> int:
    from ..runs import RunFolder, progress_bar
    from .trainer import HELD_BY_PARENT, refuse_finished, run_training

    _stop_on_terminate()
    _quiet_libraries()
    if config.launcher == "accelerate" and not os.environ.get(HELD_BY_PARENT):
        from .launch import launch

        refuse_finished(config)  # before the folder is held: a refused run changes nothing
        run_folder = RunFolder(config.output_dir, "train")
        with run_folder.hold(config):
            status = launch(config, str(run_folder.path / "config.yaml"))
            if status != 0:
                raise SystemExit(status)
        return 0
    with progress_bar("train", "step") as progress:
        result = run_training(config, progress)
    if os.environ.get("RANK", "0") != "0":
        return 0  # process 0 reports for all
    print(f"{result.steps} steps in {result.seconds:.0f} s; train loss {result.train_loss:.4f}"
          + (f", eval loss {result.eval_loss:.4f}" if result.eval_loss is not None else "")
          + f"; {result.trainable:,} of {result.total:,} parameters trained; {result.mixture}", file=sys.stderr)
    print(result.model_dir)
    return 0
