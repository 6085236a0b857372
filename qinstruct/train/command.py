"""`qinstruct train`: instruction tuning with the paper's strategies, in a run folder (resumable)."""
from __future__ import annotations

import argparse

from ..config.cli import add_job_parser

DESCRIPTION = """Tune a vision-language model on instruction data with the paper's strategies (mix, after, replace,
or the high-level-only baseline), LoRA or full.  OUTPUT_DIR is a run folder: run the same command again after an
interruption (even kill -9) and training continues from the last checkpoint; a finished run is not trained
again.  --launcher accelerate runs it on several processes or machines (DeepSpeed ZeRO-2/3, FSDP).
Exit status: 0 trained, 2 bad arguments or a finished run, 130 stopped (SIGINT or SIGTERM; run again to resume)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .job import TRAIN_JOB

    add_job_parser(subparsers, TRAIN_JOB, help="instruction tuning (mix / after / replace), resumable",
                   description=DESCRIPTION)
