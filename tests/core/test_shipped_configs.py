"""Every YAML under assets/configs loads into its job's dataclass and runs (on a small demo world), so a shipped
config cannot rot when a field changes."""
import json
import os
import re
import shlex
from pathlib import Path

import pytest

from qinstruct.cli import build_parser, main
from qinstruct.config.cli import config_from_args

from ..convert.test_openai_backend import good_answer
from ..helpers.openai_server import openai_server

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "assets" / "configs").rglob("*.yaml"))
# the order a new user would run them in: world, then what reads it
RUN_ORDER = ["demo_world", "corrupt_random_assign", "convert_offline", "convert_openai_compatible", "stats_report",
             "stats_balance", "data_export_llamafactory", "rate", "chat", "train_demo_cpu", "eval_a1_demo",
             "eval_a3_demo", "eval_a2_demo", "eval_report_demo"]
# real checkpoints and GPUs: loaded and checked, not run here
LOAD_ONLY = ["train_llava15_7b_lora", "train_llava15_7b_full", "train_qwen2vl_lora", "eval_a1_llava15_7b",
             "eval_a3_llava15_7b"]
# a smaller world and shorter runs than shipped, a local server instead of the real endpoint: flags after --config
OVERRIDES = {"demo_world": ["--images", "60", "--eval-images", "12"],
             "convert_openai_compatible": ["--limit", "4"],
             "train_demo_cpu": ["--max-steps", "4", "--eval-steps", "2", "--save-steps", "2"],
             "eval_a1_demo": ["--limit", "6"]}


def verb_of(path: Path) -> list[str]:
    match = re.search(r"^# qinstruct (.+?) --config THIS_FILE", path.read_text(), re.MULTILINE)
    assert match, f"{path.name}: the header must say which verb reads it"
    return shlex.split(match.group(1))


def test_every_config_is_known_to_the_run_order():
    assert sorted(p.stem for p in CONFIGS) == sorted(RUN_ORDER + LOAD_ONLY)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_loads_into_its_dataclass(path):
    args = build_parser().parse_args([*verb_of(path), "--config", str(path)])
    config = config_from_args(args.job_class, args)
    assert type(config).COMMAND == tuple(verb_of(path))
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            assert "  # " in line, f"{path.name}: every key carries a comment ({line!r})"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_an_example_holds_only_what_differs_from_the_defaults(path):
    """An example restating defaults goes stale when a default changes (and hides what the example is about)."""
    import yaml

    from qinstruct.config.schema import MISSING, field_default, job_fields, plain

    args = build_parser().parse_args([*verb_of(path), "--config", str(path)])
    fields = {f.name: f for f in job_fields(args.job_class)}
    for key, value in yaml.safe_load(path.read_text()).items():
        assert key in fields, f"{path.name}: {key} is no field of {args.job_class.__name__}"
        default = field_default(fields[key])
        assert default is MISSING or plain(value) != plain(default), f"{path.name}: {key} is its default"


def test_every_shipped_config_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the configs name paths under ./workspace, as after ./scripts/studio
    assert main(["demo", "models", "--workspace", "workspace"]) == 0  # the shipped micro models, as the studio
    by_name = {p.stem: p for p in CONFIGS}
    with openai_server(good_answer) as (url, _):
        OVERRIDES["convert_openai_compatible"] += ["--base-url", url]
        for name in RUN_ORDER:
            assert main([*verb_of(by_name[name]), "--config", str(by_name[name]), *OVERRIDES.get(name, [])]) == 0, name
    world = json.loads((tmp_path / "workspace/demo/world/world.json").read_text())
    assert world["counts"]["images"] == 60  # the flag after --config won
    assert (tmp_path / "workspace/convert/demo-offline/items.json").is_file()
    assert len({json.loads(line)["feedback_id"] for line in
                (tmp_path / "workspace/convert/demo-qwen/partial.jsonl").read_text().splitlines()}) == 4
    assert (tmp_path / "workspace/exports/llamafactory/dataset_info.json").is_file()
    assert (tmp_path / "workspace/stats/reports/demo/report.zip").is_file()
    assert len((tmp_path / "workspace/corrupt/batches/random-assign/manifest.jsonl").read_text().splitlines()) == 60
    assert os.path.isfile(tmp_path / "workspace/stats/demo_eval_balanced.json")
    after = json.loads((tmp_path / "workspace/runs/demo-after/model/qinstruct.json").read_text())
    assert after["strategy"] == "after" and after["metrics"]["steps"] == 4
    from qinstruct.models.loading import load_model

    assert load_model(str(tmp_path / "workspace/runs/demo-after/model")).trained  # a LoRA, loads on its base
    report = (tmp_path / "workspace/evals/demo-report/report.md").read_text()
    assert "A1 perception, likelihood protocol" in report and "demo SRCC" in report and "A2 description" in report
    assert "| micro-mix |" in report  # the tuned row, named without the shared folders
