"""`qinstruct <verb> ...`: every job of the studio is also a command.

Each verb lives in a module exposing `add_parser(subparsers)` (which sets `func`), so `--help` stays fast:
heavy imports happen inside the verb's function.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import UserError

# verb modules, in the order of the studio's tabs
VERB_MODULES = ["qinstruct.corrupt.command", "qinstruct.stats.command", "qinstruct.convert.command",
                "qinstruct.data.command", "qinstruct.train.command", "qinstruct.models.command", "qinstruct.eval.command",
                "qinstruct.demo.command",
                "qinstruct.jobs.command"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qinstruct",
        description="Q-Instruct Studio: corrupt images, build low-level instruction data, tune, chat, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"qinstruct {__version__}")
    subparsers = parser.add_subparsers(title="verbs", metavar="VERB")
    for module in VERB_MODULES:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a bad flag (argparse printed why): exit statuses, not exceptions
        return int(exit_.code or 0)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    from .jobs.child import job_context, run_as_job

    job = job_context()  # launched by the job system: wait for a slot, record how it ends
    try:
        if job is not None:
            return run_as_job(job, lambda: int(args.func(args) or 0))
        return int(args.func(args) or 0)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except OSError as error:  # the machine said no (a full disk, a permission, a vanished file): one line, not a trace
        where = getattr(error, "filename", None)
        print(f"error: {where + ': ' if where else ''}{error.strerror or error}", file=sys.stderr)
        return 2
