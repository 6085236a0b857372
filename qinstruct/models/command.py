"""`qinstruct chat` and `qinstruct rate`."""
from __future__ import annotations

import argparse
import json
import sys

from ..config.cli import add_job_parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .specs import SPEC_KINDS
    from .tasks import ChatConfig, RateConfig

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
    models = subparsers.add_parser("models", help="the field's known checkpoints: how each loads, whether it is here",
                                   description="The field's checkpoints (qinstruct/models/known.py): family, layout, "
                                   "how the studio loads it, licence as its card states it, the figures it should "
                                   "reproduce, and whether it is in the local cache (else the command to fetch it).")
    models.add_argument("--known", action="store_true", help="list the known checkpoints (the default)")
    models.add_argument("--json", action="store_true", help="print the rows as JSON")
    models.set_defaults(func=run_models)


def run_models(args: argparse.Namespace) -> int:
    from .known import known_rows

    rows = known_rows()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        where = f"on disk: {row['on_disk']}" if row["on_disk"] else f"not on disk: {row['fetch']}"
        print(f"{row['name']:28s} {row['hub_id']:48s} {row['family'] or '-':11s} {row['loads']}")
        print(f"{'':28s} licence: {row['licence']}; {where}")
        if row["reproduces"]:
            print(f"{'':28s} should reproduce: {row['reproduces']}")
    return 0


def run_chat(config, args: argparse.Namespace) -> int:
    from .tasks import run_chat as run

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
    from .tasks import run_rate as run

    if config.self_check:
        from .tasks import run_self_check

        check = run_self_check(config)
        print(json.dumps({"passed": check.passed, "kind": check.kind, "curves": check.curves}) if args.json
              else check.line())
        return 0 if check.passed else 1

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
