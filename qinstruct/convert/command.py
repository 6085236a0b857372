"""`qinstruct convert`: feedbacks -> instruction data (offline rules or an OpenAI-compatible model)."""
from __future__ import annotations

import argparse
import sys

from ..config.cli import add_job_parser

DESCRIPTION = """Convert every feedback of a Q-Pathway JSONL file into Q-Instruct items, in the run folder OUT
(items.json, report.json, partial.jsonl, config.yaml, status.json, log.jsonl).  The API key comes from
OPENAI_API_KEY (never from a flag, never written anywhere).
Exit status: 0 complete, 1 some feedbacks failed (run again to resume), 2 bad arguments."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .job import CONVERT_JOB

    parser = add_job_parser(subparsers, CONVERT_JOB, run=run, description=DESCRIPTION,
                            help="turn pathway feedbacks into instruction data (resumable, cached)")
    parser.add_argument("--dry-run", action="store_true", help="print counts and the cost estimate; call nothing")


def run(config, args: argparse.Namespace) -> int:
    """--dry-run: counts and the cost estimate only; otherwise the conversion job."""
    from .job import convert_job, count_feedbacks, estimate_cost

    if not args.dry_run:
        return convert_job(config)
    print(f"{count_feedbacks(config.input, config.limit):,} feedback(s); backend {config.backend}; "
          f"{estimate_cost(config).line(config.model)}", file=sys.stderr)
    return 0
