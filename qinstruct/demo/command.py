"""`qinstruct demo world`: build the embedded demo world."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .config import WorldConfig

    parser = subparsers.add_parser("demo", help="the embedded demo world (offline, reproducible)")
    verbs = parser.add_subparsers(title="demo verbs", metavar="VERB", required=True)
    world = verbs.add_parser("world", help="generate images, synthetic feedbacks, content data and eval sets")
    world.add_argument("--out", required=True, help="output folder")
    defaults = {f.name: f.default for f in dataclasses.fields(WorldConfig) if f.name != "out"}
    world.add_argument("--images", type=int, default=defaults["images"], help="training images")
    world.add_argument("--eval-images", type=int, default=defaults["eval_images"], help="held-out images")
    world.add_argument("--size", type=int, default=defaults["size"], help="image side in px")
    world.add_argument("--seed", type=int, default=defaults["seed"])
    world.set_defaults(func=run_world)


def run_world(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .config import WorldConfig
    from .world import build_world

    config = WorldConfig(out=args.out, images=args.images, eval_images=args.eval_images, size=args.size,
                         seed=args.seed)
    bar = tqdm(total=args.images + args.eval_images, unit="img", desc="demo world", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    summary = build_world(config, progress)
    bar.close()
    print(json.dumps(summary["counts"]))
    return 0
