"""`qinstruct data validate|export`: check any dataset file; convert instruction data for other trainers."""
from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="validate dataset files; export instruction data (LLaMA-Factory, TRL)")
    verbs = parser.add_subparsers(title="data verbs", metavar="VERB", required=True)

    validate = verbs.add_parser("validate", help="load a file, report every problem with item and field")
    validate.add_argument("file")
    validate.add_argument("--format", choices=["instructions", "pathway", "mos", "qbench-outputs", "llvisionqa"],
                          help="default: detected from the first item")
    validate.add_argument("--skip-invalid", action="store_true", help="load what is valid and count the rest")
    validate.add_argument("--image-root", help="check that every referenced image exists under this folder")
    validate.add_argument("--strict", action="store_true", help="missing images are an error")
    validate.set_defaults(func=run_validate)

    export = verbs.add_parser("export", help="Q-Instruct / LLaVA JSON -> LLaMA-Factory (ShareGPT) or TRL")
    export.add_argument("file", help="instruction JSON (LLaVA layout)")
    export.add_argument("--to", dest="target", required=True, choices=["llamafactory", "trl", "llava"])
    export.add_argument("--out", required=True, help="output folder")
    export.add_argument("--name", default="qinstruct", help="dataset name (file name and dataset_info key)")
    export.add_argument("--image-prefix", default="", help="prepended to every image path")
    export.add_argument("--skip-invalid", action="store_true")
    export.set_defaults(func=run_export)


def run_validate(args: argparse.Namespace) -> int:
    from .loaders import DataError, load_any

    options = {"skip_invalid": args.skip_invalid}
    if args.image_root:
        options.update(image_root=args.image_root, strict=args.strict)
    try:
        result = load_any(args.file, args.format, **options)
    except DataError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return 1
    print(result.summary())
    for error in result.errors[:20]:
        print(f"  skipped: {error}")
    if len(result.errors) > 20:
        print(f"  … {len(result.errors) - 20} more")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from .exporters import export_instructions
    from .loaders import DataError, load_instructions

    try:
        result = load_instructions(args.file, skip_invalid=args.skip_invalid)
    except DataError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return 1
    for path in export_instructions(result.items, args.out, args.target, args.name, args.image_prefix):
        print(path)
    if result.errors:
        print(f"{len(result.errors)} invalid item(s) skipped; first: {result.errors[0]}", file=sys.stderr)
    return 0
