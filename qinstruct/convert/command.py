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
    from .job import ConvertJobConfig

    parser = add_job_parser(subparsers, "convert", ConvertJobConfig, run, description=DESCRIPTION,
                            help="turn pathway feedbacks into instruction data (resumable, cached)")
    parser.add_argument("--dry-run", action="store_true", help="print counts and the cost estimate; call nothing")


def run(config, args: argparse.Namespace) -> int:
    from ..runs import progress_bar

    from .job import estimate_cost, export_items, feedback_refs, run_convert_job

    refs = feedback_refs(config.input, config.limit)
    cost = estimate_cost(config, refs)
    print(f"{len(refs):,} feedback(s); backend {config.backend}; {cost.line(config.model)}", file=sys.stderr)
    if args.dry_run:
        return 0
    with progress_bar("convert", "feedback") as progress:
        report = run_convert_job(config, progress=progress)
    print(report.summary(), file=sys.stderr)
    for feedback_id, reason in report.failed[:10]:
        print(f"failed: {feedback_id}: {reason}", file=sys.stderr)
    if report.output and config.export:
        for path in export_items(config.out, config.export):
            print(path)
    if report.output:
        print(report.output)
    return 0 if report.complete else 1
