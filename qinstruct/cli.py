"""`qinstruct <verb> ...`: every job of the studio is also a command.

Each verb lives in a module exposing `add_parser(subparsers)` (which sets `func`), so `--help` stays fast:
heavy imports happen inside the verb's function.
"""
from __future__ import annotations

import argparse

from . import __version__
from .convert import command as convert_command
from .corrupt import command as corrupt_command
from .data import command as data_command
from .demo import command as demo_command
from .errors import exit_status
from .eval import command as eval_command
from .jobs import command as runs_command
from .models import command as models_command
from .stats import command as stats_command
from .train import command as train_command

# the verbs' modules, in the order of the studio's tabs; each one's `add_parser` adds its verbs
VERB_MODULES = (corrupt_command, stats_command, convert_command, data_command, train_command, models_command,
                eval_command, demo_command, runs_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qinstruct",
        description="Q-Instruct Studio: corrupt images, build low-level instruction data, tune, chat, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"qinstruct {__version__}")
    subparsers = parser.add_subparsers(title="verbs", metavar="VERB")
    for module in VERB_MODULES:
        module.add_parser(subparsers)
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
    return exit_status(lambda: args.func(args))
