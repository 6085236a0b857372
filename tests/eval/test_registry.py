"""One registry of evaluation protocols: a protocol registered here, in a test, becomes a `qinstruct eval` verb, a
choice and a form section of the Evaluate tab, a job the launcher runs, and tables and radar axes in the report --
with nothing changed anywhere else."""
from dataclasses import dataclass
from typing import ClassVar

import pytest

from qinstruct.config import option
from qinstruct.eval import protocols
from qinstruct.eval.protocols import register
from qinstruct.eval.tables import Table
from qinstruct.eval.types import EvalModels, Protocol, Unit, failures


@dataclass(kw_only=True)
class ToyConfig(EvalModels):
    COMMAND: ClassVar = ("eval", "t9")

    words: list[str] = option(help="words whose length the toy protocol scores", metavar="WORD")


def toy_units(config):
    return [Unit("t9", i, word) for i, word in enumerate(config.words)]


def toy_score(scoring, batch):
    vocabulary = scoring.model.count_tokens  # the model is loaded and used: a real protocol's shape
    return [scoring.record(TOY, unit, length=len(unit.item), tokens=vocabulary(unit.item)) for unit in batch]


def toy_summary(config, units, records, missing):
    return {"protocol": "t9", "models": {spec: {"mean_length": sum(r["length"] for r in records
                                                                   if r["model"] == spec) / len(units)}
                                         for spec in config.models},
            "failed": failures(records, config.models, len(units), missing)}


TOY = Protocol("t9", "T9 toy", "T9 toy: the mean length of some words", ToyConfig, toy_units, toy_score, toy_summary,
               lambda s: [Table("T9 toy (mean word length)", ["mean"],
                                {m: [r["mean_length"]] for m, r in s["models"].items()})],
               lambda s: {m: {"T9": r["mean_length"] / 10} for m, r in s["models"].items()},
               lambda s: {m: r["mean_length"] for m, r in s["models"].items()})


@pytest.fixture
def toy():
    register(TOY)
    yield TOY
    protocols.PROTOCOLS.pop("t9")


def test_a_registered_protocol_is_a_verb_a_job_a_tab_choice_and_a_report_table(toy, tmp_path, capsys):
    import json

    from qinstruct.cli import build_parser, main
    from qinstruct.eval.report import ReportConfig, write_report
    from qinstruct.jobs.registry import spec_of

    assert "t9" in build_parser().parse_args(["eval", "t9", "--words", "a", "--out", "x"]).job_class.COMMAND
    out = tmp_path / "toy"
    assert main(["eval", "t9", "--model", "tiny:llava", "--words", "a", "bb", "cccc", "--out", str(out),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["models"]["tiny:llava"]["mean_length"] == pytest.approx(7 / 3)
    assert spec_of(ToyConfig(words=["a"], out="x")).kind == "eval-t9"  # the launcher runs it like any job
    report = write_report(ReportConfig(runs=[str(out)], out=str(tmp_path / "report"))).read_text()
    assert "### T9 toy (mean word length)" in report and "| tiny:llava | 2.333 |" in report

    from app.tabs import evaluate

    assert "t9_words" in evaluate.form_names()  # its own fields, as the Evaluate tab's form and API parameters
    import gradio as gr

    from app.main import build

    blocks = build(tmp_path / "workspace")
    choices = [c for block in blocks.blocks.values() if isinstance(block, gr.CheckboxGroup)
               and block.label == "Protocols" for c in block.choices]
    assert ("T9", "T9") in choices and ("A1", "A1") in choices
