"""`qinstruct stats table1|balance|report`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stats", help="Table 1, MOS balancing, feedback statistics and figures")
    verbs = parser.add_subparsers(title="stats verbs", metavar="VERB", required=True)

    def common(sub):
        sub.add_argument("files", nargs="+", metavar="FILE[=SOURCE]",
                         help="pathway JSONL, MOS list, Q-Bench output or instruction JSON; =SOURCE names it")
        sub.add_argument("--scale", action="append", default=[], metavar="SOURCE=FACTOR",
                         help="rescale a source's MOS to [0, 100] (default: inferred from its range)")
        sub.add_argument("--skip-invalid", action="store_true", help="load what is valid, report the rest")

    table = verbs.add_parser("table1", help="size, mean and std of MOS per source")
    common(table)
    table.add_argument("--json", action="store_true", help='print [{"source","size","mean","std"}]')
    table.set_defaults(func=run_table1)

    balance = verbs.add_parser("balance", help="MOS-balanced sub-sample per source")
    common(balance)
    balance.add_argument("--budget", required=True, action="append", metavar="N or SOURCE=N",
                         help="items kept per source; SOURCE=N overrides one source")
    balance.add_argument("--bins", type=int, default=10)
    balance.add_argument("--seed", type=int, default=0)
    balance.add_argument("--out", required=True, help="output file (JSON list of {img_path, gt_score, source})")
    balance.set_defaults(func=run_balance)

    report = verbs.add_parser("report", help="every statistic and figure: PNG, CSV, Markdown")
    common(report)
    report.add_argument("--out", required=True, help="output folder")
    report.add_argument("--source", action="append", default=[], help="keep only these sources")
    report.add_argument("--mos-min", type=float, default=0.0)
    report.add_argument("--mos-max", type=float, default=100.0)
    report.add_argument("--budget", type=int, default=0, help="also balance to N per source")
    report.add_argument("--bins", type=int, default=10)
    report.add_argument("--seed", type=int, default=0)
    report.set_defaults(func=run_report)


def _load(args):
    from ..data.loaders import DataError
    from .dataset import load_stats_dataset, parse_scales

    try:
        return load_stats_dataset(args.files, parse_scales(args.scale), args.skip_invalid)
    except (DataError, ValueError) as error:
        raise ConfigError(str(error)) from None


def run_table1(args) -> int:
    from .table1 import format_table1, table1

    rows = table1(_load(args))
    print(json.dumps([r.as_dict() for r in rows]) if args.json else format_table1(rows))
    return 0


def run_balance(args) -> int:
    from .balance import BalanceConfig, balance, flatness, histogram

    default, overrides = None, {}
    for spec in args.budget:
        source, sep, value = spec.rpartition("=")
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"--budget expects N or SOURCE=N, got {spec!r}") from None
        if sep:
            overrides[source] = number
        else:
            default = number
    data = _load(args)
    if default is None:
        default = max(len(data), 1)  # only the named sources are cut
    sampled = balance(data, BalanceConfig(default, args.bins, args.seed, overrides))
    rows = [{"img_path": i, "gt_score": round(m, 4), "source": s}
            for i, m, s in zip(sampled.images, sampled.mos, sampled.sources)]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    for source in data.source_names():
        before, after = histogram(data.filter([source]).mos_array, args.bins), histogram(
            sampled.filter([source]).mos_array, args.bins)
        print(f"{source}: {before.sum()} -> {after.sum()} items; flatness {flatness(before):.3f} -> "
              f"{flatness(after):.3f}; histogram {after.tolist()}", file=sys.stderr)
    print(args.out)
    return 0


def run_report(args) -> int:
    from .report import StatsConfig, compute_report, export_report

    config = StatsConfig(files=args.files, scales=args.scale, sources=args.source, mos_min=args.mos_min,
                         mos_max=args.mos_max, budget=args.budget, bins=args.bins, seed=args.seed)
    report = compute_report(_load(args), config)
    print(export_report(report, Path(args.out)))
    return 0
