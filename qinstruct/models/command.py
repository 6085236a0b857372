"""`qinstruct chat` and `qinstruct rate`."""
from __future__ import annotations

import argparse
import json
import sys

from ..config.cli import add_job_parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .jobs import ChatConfig, RateConfig
    from .specs import SPEC_KINDS

    kinds = "Model specs:\n" + "\n".join(f"  {k.syntax:40s} {k.description}" for k in SPEC_KINDS)

    chat = add_job_parser(subparsers, "chat", ChatConfig, run_chat,
                          help="ask one or two models about an image (baseline vs tuned)",
                          description="Ask one or two models about an image. Exit status: 0 answered, 1 a side "
                          "failed, 2 bad arguments.\n\n" + kinds)
    chat.add_argument("--json", action="store_true", help='print [{"spec", "label", "answer", "rating"?}] per side')
    rate = add_job_parser(subparsers, "rate", RateConfig, run_rate,
                          help="P(good) and the Q-Align 5-level score, one line per image",
                          description="Rate images with one model. Exit status: 0 all rated, 3 some images "
                          "skipped, 2 bad arguments or a model that cannot load.\n\n" + kinds)
    rate.add_argument("--json", action="store_true",
                      help='print [{"path", "p_good", "levels", "score5", "approximate"}] (or "error") per image')


def run_chat(config, args: argparse.Namespace) -> int:
    from .jobs import run_chat as run

    sides = run(config)
    if args.json:
        print(json.dumps([side.as_dict() for side in sides], ensure_ascii=False))
    else:
        for side in sides:
            print(f"=== {side.spec}  [{side.label}]")
            print(f"error: {side.error}" if side.error else side.answer)
            if side.rating is not None:
                print("rating: " + side.rating.line())
    return 1 if any(side.error for side in sides) else 0


def run_rate(config, args: argparse.Namespace) -> int:
    from .jobs import run_rate as run

    rows, status = [], 0
    for item in run(config):
        if item.error:
            status = 3
            print(f"skipped: {item.error}", file=sys.stderr)
        if args.json:
            rows.append(item.as_dict())
        elif item.rating is not None:
            print(f"{item.path}\t{item.rating.line()}", flush=True)
    if args.json:
        print(json.dumps(rows))
    return status
