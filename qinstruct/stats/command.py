"""`qinstruct stats table1|balance|report`."""
from __future__ import annotations

import argparse
import json
import sys

from ..config.cli import add_job_parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .config import BalanceJobConfig, StatsConfig, Table1Config

    parser = subparsers.add_parser("stats", help="Table 1, MOS balancing, feedback statistics and figures")
    verbs = parser.add_subparsers(title="stats verbs", metavar="VERB", required=True)
    table = add_job_parser(verbs, "table1", Table1Config, run_table1, help="size, mean and std of MOS per source")
    table.add_argument("--json", action="store_true", help='print [{"source","size","mean","std"}]')
    add_job_parser(verbs, "balance", BalanceJobConfig, run_balance, help="MOS-balanced sub-sample per source")
    add_job_parser(verbs, "report", StatsConfig, run_report,
                   help="every statistic and figure: PNG, CSV, Markdown, zip")


def run_table1(config, args) -> int:
    from .dataset import load_inputs
    from .table1 import format_table1, table1

    rows = table1(load_inputs(config))
    print(json.dumps([r.as_dict() for r in rows]) if args.json else format_table1(rows))
    return 0


def run_balance(config, args) -> int:
    from .balance import run_balance_job

    for line in run_balance_job(config):
        print(line, file=sys.stderr)
    print(config.out)
    return 0


def run_report(config, args) -> int:
    from .report import run_report as run

    print(run(config)[1])
    return 0
