"""`qinstruct demo world`: build the embedded demo world; `qinstruct demo reproduce`: the paper's experiment on it;
`qinstruct demo models`: the shipped micro models into a workspace."""
from __future__ import annotations

import argparse
import json

from ..config.cli import add_job_parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .config import ModelsConfig
    from .reproduce import ReproduceConfig

    parser = subparsers.add_parser("demo", help="the embedded demo world (offline, reproducible)")
    verbs = parser.add_subparsers(title="demo verbs", metavar="VERB", required=True)
    from .world import WORLD_JOB

    add_job_parser(verbs, WORLD_JOB,
                   help="generate images, synthetic feedbacks, content data and evaluation sets")
    add_job_parser(verbs, "reproduce", ReproduceConfig, run_reproduce,
                   help="world -> conversion -> micro models trained with each strategy -> A1/A3 -> the paper's "
                        "tables (resumable)")
    add_job_parser(verbs, "models", ModelsConfig, run_models,
                   help="copy the shipped micro demo models into the workspace and list their held-out figures")


def run_reproduce(config, args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    report = reproduce(config)
    print(report.read_text(encoding="utf-8").split("### A1")[0].rstrip())  # the header and the strategies table
    print(report)
    return 0


def run_models(config, args: argparse.Namespace) -> int:
    from ..workspace import Workspace
    from .shipped import MANIFEST, install

    workspace = Workspace.open(config.workspace or None)
    for name in install(workspace.models):
        manifest = json.loads((workspace.models / name / MANIFEST).read_text(encoding="utf-8"))
        held = manifest["held_out"]
        figures = ", ".join(f"{key} {value:.3f}" for key, value in held.items() if isinstance(value, float))
        print(f"{workspace.models / name}\t{figures}")
    return 0
