"""`qinstruct corrupt`: the batch job (file or folder), the paper's random assignment, --list."""
from __future__ import annotations

import argparse

from ..config.cli import add_job_parser

DESCRIPTION = """Corrupt an image or a folder of images into OUT (images + manifest.jsonl; OUT is a run folder:
config.yaml, status.json, log.jsonl).  Re-running after an interruption skips finished items.
Exit status: 0 all done, 2 bad arguments or a bad single file, 3 done but some sources skipped."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .batch import CORRUPT_JOB

    parser = add_job_parser(subparsers, CORRUPT_JOB,
                            help="corrupt an image or a folder (manifest.jsonl, resumable)", description=DESCRIPTION,
                            sugar=_sugar, early=lambda args: print_list() if args.list else None)
    parser.add_argument("--all", action="store_true", help="shorthand for --corruption with the paper's 15")
    parser.add_argument("--list", action="store_true", help="print the corruption names and exit")


def _sugar(args: argparse.Namespace) -> dict:
    from .registry import list_corruptions

    return {"corruptions": list_corruptions("common")} if args.all else {}


def print_list() -> int:
    from . import get_corruption, list_corruptions

    for name in list_corruptions():
        info = get_corruption(name)
        print(f"{name:18s} {info.group:8s} {'common' if info.common else 'extra':7s} {info.label}")
    return 0
