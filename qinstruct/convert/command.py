"""`qinstruct convert`: feedbacks -> instruction data (offline rules or an OpenAI-compatible model)."""
from __future__ import annotations

import argparse
import sys

from ..config import config_from_mapping


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert", help="turn pathway feedbacks into instruction data (resumable, cached)",
        description="Convert every feedback of a Q-Pathway JSONL file into Q-Instruct items. The API key comes from "
        "OPENAI_API_KEY (never from a flag, never written anywhere). Exit status: 0 complete, 1 some feedbacks "
        "failed (run again to resume), 2 bad arguments.")
    parser.add_argument("input", help="Q-Pathway JSONL")
    parser.add_argument("--out", required=True, help="output JSON (LLaVA layout)")
    parser.add_argument("--backend", default="offline", help="offline | openai")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--base-url", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--subsets", nargs="+", default=None, help="pathway yes-no what how context extended")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-attempts", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--prices", default=None, help="YAML price table (USD per 1M tokens)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N feedbacks")
    parser.add_argument("--dry-run", action="store_true", help="print counts and the cost estimate; call nothing")
    parser.add_argument("--export", choices=["llamafactory", "trl"], help="also export the result in this format")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .job import ConvertJobConfig, estimate_cost, feedback_refs, run_convert_job

    values = {k: getattr(args, k) for k in ("input", "out", "backend", "model", "base_url", "concurrency",
                                            "max_attempts", "timeout", "cache_dir", "prices", "limit")}
    if args.subsets:
        values["subsets"] = args.subsets
    config = config_from_mapping(ConvertJobConfig, values, "convert job")
    refs = feedback_refs(config.input, config.limit)
    cost = estimate_cost(config, refs)
    print(f"{len(refs):,} feedback(s); backend {config.backend}"
          + (f"; {cost.line(config.model)}" if config.backend != "offline" else ""), file=sys.stderr)
    if args.dry_run:
        return 0
    bar = tqdm(total=len(refs), unit="feedback", desc="convert", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    report = run_convert_job(config, progress=progress)
    bar.close()
    print(report.summary(), file=sys.stderr)
    for feedback_id, reason in report.failed[:10]:
        print(f"failed: {feedback_id}: {reason}", file=sys.stderr)
    if report.output and args.export:
        from pathlib import Path

        from ..data.exporters import export_instructions
        from ..data.loaders import load_instructions

        items = load_instructions(report.output).items
        for path in export_instructions(items, Path(report.output).parent / args.export, args.export,
                                        Path(report.output).stem):
            print(path)
    if report.output:
        print(report.output)
    return 0 if report.complete else 1
