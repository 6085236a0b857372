"""`qinstruct eval a1|a2|a3|iqa|arena|report`: the Q-Bench protocols, published outputs, the arena, reports."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..config import option
from ..config.cli import add_job_parser
from ..errors import UserError
from .a3 import FORMULAS, PAIRS


@dataclass(kw_only=True)
class IqaConfig:
    COMMAND: ClassVar = ("eval", "iqa")

    qbench_outputs: list[str] = option(help="published Q-Bench output files (concatenated JSON objects with "
                                       "logit_good/logit_poor or logit_high/logit_low), each FILE or FILE=DATASET",
                                       metavar="FILE[=DATASET]")
    temperature: float = option(100.0, help="softmax temperature of the score (Q-Bench's leaderboard: 100)", gt=0,
                               max=1e6)
    pair: str = option("auto", help="the logits scored: " + "; ".join(f"{k}: {v}" for k, v in PAIRS.items()),
                       choices=list(PAIRS))
    formula: str = option("qbench", help="the score: " + "; ".join(f"{k}: {v}" for k, v in FORMULAS.items()),
                          choices=list(FORMULAS))


@dataclass(kw_only=True)
class ArenaConfig:
    COMMAND: ClassVar = ("eval", "arena")

    votes: str = option(help="the Chat tab's log (workspace/chat/log.jsonl): its vote records")
    include_open: bool = option(False, help="also count votes cast outside blind mode")
    a3: list[str] = option(default_factory=list, help="A3 evaluation run folders: the arena's ranking beside the "
                           "models' A3 SRCC ranking (Kendall tau)", metavar="RUN")
    bootstrap: int = option(200, help="bootstrap rounds for the 95% intervals (0: none)", min=0, max=100000)
    seed: int = option(0, help="seed of the bootstrap", min=0, max=2**32 - 1)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from .protocols import PROTOCOLS, list_protocols, protocol_job
    from .report import ReportConfig

    parser = subparsers.add_parser("eval", help="Q-Bench A1 / A2 / A3, published outputs, the arena, reports")
    verbs = parser.add_subparsers(title="eval verbs", metavar="VERB", required=True)
    for name in list_protocols():  # every registered protocol is a verb
        add_job_parser(verbs, protocol_job(PROTOCOLS[name]), run=run_protocol, help=PROTOCOLS[name].about) \
            .add_argument("--json", action="store_true", help="print the result as JSON")
    for name, cls, run, about in (
            ("iqa", IqaConfig, run_iqa, "a published Q-Bench output file's leaderboard row (SRCC / PLCC)"),
            ("arena", ArenaConfig, run_arena, "Bradley-Terry ratings and win rates from the Chat tab's votes"),
            ("report", ReportConfig, run_report, "tables with +Δ, radar, A3 scatters and the scaling curve from "
                                                 "evaluation runs")):
        sub = add_job_parser(verbs, name, cls, run, help=about)
        if name in ("iqa", "arena"):
            sub.add_argument("--json", action="store_true", help="print the result as JSON")


def run_protocol(config, args) -> int:
    from .protocols import evaluate

    return evaluate(config, as_json=args.json)


def run_iqa(config, args) -> int:
    from .a3 import score_qbench_file

    rows = []
    for spec in config.qbench_outputs:
        path, _, dataset = spec.partition("=")
        rows.append(score_qbench_file(path, dataset or None, config.temperature, config.pair, config.formula))
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['dataset']:10s} n={row['n']:5d}  SRCC {row['srcc']:.3f}  PLCC {row['plcc']:.3f}  "
                  f"(logit_{row['pair'].replace('/', '/logit_')}, {row['formula']} formula)  {row['file']}")
    return 0


def run_arena(config, args) -> int:
    from .arena import a3_srcc, agreement, leaderboard, read_votes
    from .protocols import summary_of, summary_problem

    if not Path(config.votes).is_file():
        raise UserError(f"{config.votes}: no such file (the Chat tab writes its votes to workspace/chat/log.jsonl)")
    problems = [problem for problem in (summary_problem(Path(run)) for run in config.a3) if problem]
    if problems:
        raise UserError("; ".join(problems))
    log = read_votes(config.votes, config.include_open)
    if not log.votes:
        print(f"no {'' if config.include_open else 'blind '}votes in {config.votes}"
              + ("" if config.include_open else " (--include-open counts the others too)"), file=sys.stderr)
    board = leaderboard(log, config.bootstrap, config.seed)
    agreed = agreement(board, a3_srcc([summary_of(Path(run)) for run in config.a3])) if config.a3 else None
    if args.json:
        print(json.dumps({**board.as_dict(), **({"a3_agreement": agreed.as_dict()} if agreed else {})}))
        return 0
    print("rating  95% interval  wins-ties-losses  both bad  model")
    for row in board.as_dict()["ratings"]:
        print(f"{row['rating']:6.1f}  [{row['ci95'][0]:.0f}, {row['ci95'][1]:.0f}]  {row['wins']}-{row['ties']}-"
              f"{row['losses']}  {row['both_bad']}  {row['model']}")
    for reason, count in board.excluded.items():
        print(f"not counted: {count} vote(s) {reason}")
    if agreed:
        print(agreed.line())
    return 0


def run_report(config, args) -> int:
    from .report import write_report

    print(write_report(config))
    return 0
