"""`qinstruct demo world`: build the embedded demo world."""
from __future__ import annotations

import argparse
import json

from ..config.cli import add_job_parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .config import WorldConfig

    parser = subparsers.add_parser("demo", help="the embedded demo world (offline, reproducible)")
    verbs = parser.add_subparsers(title="demo verbs", metavar="VERB", required=True)
    add_job_parser(verbs, "world", WorldConfig, run_world,
                   help="generate images, synthetic feedbacks, content data and evaluation sets")


def run_world(config, args: argparse.Namespace) -> int:
    from ..runs import progress_bar

    from .world import build_world

    with progress_bar("demo world", "img") as progress:
        summary = build_world(config, progress)
    print(json.dumps(summary["counts"]))
    return 0
