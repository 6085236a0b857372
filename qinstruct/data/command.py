"""`qinstruct data validate|export`: check any dataset file; convert instruction data for other trainers."""
from __future__ import annotations

import argparse
import sys

from ..config.cli import add_job_parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .levels import LevelsConfig
    from .tasks import ExportConfig, ValidateConfig

    parser = subparsers.add_parser("data", help="validate dataset files; export instruction data (LLaMA-Factory, TRL)")
    verbs = parser.add_subparsers(title="data verbs", metavar="VERB", required=True)
    add_job_parser(verbs, "validate", ValidateConfig, run_validate,
                   help="load a file, report every problem with item and field (exit 1: invalid)")
    add_job_parser(verbs, "export", ExportConfig, run_export,
                   help="Q-Instruct / LLaVA JSON -> LLaVA, LLaMA-Factory (ShareGPT) or TRL files")
    add_job_parser(verbs, "levels", LevelsConfig, run_levels,
                   help="MOS lists -> Q-Align rating items (five levels by equal intervals of the MOS range)")


def run_validate(config, args: argparse.Namespace) -> int:
    from .loaders import DataError
    from .tasks import validate_file

    try:
        result = validate_file(config)
    except DataError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return 1
    print(result.summary())
    for error in result.errors[:20]:
        print(f"  skipped: {error}")
    if result.skipped > 20:
        print(f"  … {result.skipped - 20} more")
    return 0


def run_export(config, args: argparse.Namespace) -> int:
    from .tasks import export_file

    files, result = export_file(config)
    for path in files:
        print(path)
    if result.skipped:
        print(f"{result.skipped} invalid item(s) skipped; first: {result.errors[0]}", file=sys.stderr)
    return 0


def run_levels(config, args: argparse.Namespace) -> int:
    from .levels import build_levels

    counts = build_levels(config)
    print(", ".join(f"{level} {n}" for level, n in counts.items()), file=sys.stderr)
    print(config.out)
    return 0
