"""`qinstruct corrupt`: the batch job (file or folder), the paper's random assignment, --list."""
from __future__ import annotations

import argparse
import sys

from ..config import config_from_mapping, config_to_dict, load_config


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "corrupt",
        help="corrupt an image or a folder (manifest.jsonl, resumable)",
        description="Corrupt an image or a folder of images. Re-running after an interruption skips finished "
        "items. Exit status: 0 all done, 2 bad arguments or a bad single file, 3 done but some sources skipped.",
    )
    parser.add_argument("source", nargs="?", help="an image file or a folder (searched recursively)")
    parser.add_argument("--out", help="output folder (images + manifest.jsonl)")
    parser.add_argument("--corruption", nargs="+", default=None, metavar="NAME", help="corruption names")
    parser.add_argument("--all", action="store_true", help="the paper's 15 common corruptions")
    parser.add_argument("--severity", nargs="+", type=int, default=None, metavar="N", help="severities 1..5 (default 3)")
    parser.add_argument("--random-assign", action="store_true", help="one random corruption + severity per image")
    parser.add_argument("--seed", type=int, default=None, help="job seed (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    parser.add_argument("--max-megapixels", type=float, default=None, help="refuse larger images (default 64)")
    parser.add_argument("--format", dest="image_format", choices=["png", "jpg", "webp"], default=None)
    parser.add_argument("--config", help="YAML file with the job's fields; flags override it")
    parser.add_argument("--list", action="store_true", help="print the corruption names and exit")
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from .batch import CorruptJobConfig
    from .registry import list_corruptions

    values = config_to_dict(load_config(CorruptJobConfig, args.config)) if args.config else {}
    corruptions = list_corruptions("common") if args.all else args.corruption
    overrides = {
        "source": args.source,
        "out": args.out,
        "corruptions": corruptions,
        "severities": args.severity,
        "random_assign": args.random_assign or None,
        "seed": args.seed,
        "workers": args.workers,
        "max_megapixels": args.max_megapixels,
        "image_format": args.image_format,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return config_from_mapping(CorruptJobConfig, values, "corrupt job")


def run(args: argparse.Namespace) -> int:
    from . import list_corruptions, get_corruption

    if args.list:
        for name in list_corruptions():
            info = get_corruption(name)
            print(f"{name:18s} {info.group:8s} {'common' if info.common else 'extra':7s} {info.label}")
        return 0
    config = config_from_args(args)

    from pathlib import Path

    from tqdm import tqdm

    from .batch import print_summary, run_corrupt_job

    bar = tqdm(total=0, unit="img", desc="corrupt", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    summary = run_corrupt_job(config, progress)
    bar.close()
    print_summary(summary)
    if summary.failed:
        return 2 if Path(config.source).is_file() else 3
    return 0
