"""`qinstruct demo world`: build the embedded demo world."""
from __future__ import annotations

import argparse
import json
import sys

from ..config.cli import add_job_parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .config import WorldConfig

    parser = subparsers.add_parser("demo", help="the embedded demo world (offline, reproducible)")
    verbs = parser.add_subparsers(title="demo verbs", metavar="VERB", required=True)
    add_job_parser(verbs, "world", WorldConfig, run_world,
                   help="generate images, synthetic feedbacks, content data and evaluation sets")


def run_world(config, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .world import build_world

    bar = tqdm(total=config.images + config.eval_images, unit="img", desc="demo world", file=sys.stderr,
               disable=None)

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    summary = build_world(config, progress)
    bar.close()
    print(json.dumps(summary["counts"]))
    return 0
