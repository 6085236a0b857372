"""Every job verb's flags, --config files and shell line come from its config dataclass."""
import argparse

import pytest

from qinstruct.cli import build_parser, main
from qinstruct.config import config_to_yaml, job_fields, shell_args, shell_line
from qinstruct.config.cli import config_from_args
from qinstruct.config.schema import flag_name
from qinstruct.convert.job import ConvertJobConfig
from qinstruct.corrupt.batch import CorruptJobConfig
from qinstruct.data.tasks import ExportConfig, ValidateConfig
from qinstruct.demo.config import WorldConfig
from qinstruct.models.tasks import ChatConfig, RateConfig
from qinstruct.stats.config import BalanceJobConfig, StatsConfig, Table1Config

# one example per job, every field off its default where the type allows
EXAMPLES = [
    CorruptJobConfig(source="in dir", out="out", corruptions=["fog", "snow"], severities=[1, 5], seed=7, workers=3,
                     max_megapixels=12.5, image_format="webp"),
    ConvertJobConfig(input="p.jsonl", out="runs/c", backend="openai", model="qwen", base_url="http://h:1/v1",
                     subsets=["pathway", "how"], concurrency=4, max_attempts=2, timeout=9.5, cache_dir="cache",
                     prices="p.yaml", limit=10, export="trl"),
    Table1Config(files=["a.json=A", "b.json"], scales=["A=20"], skip_invalid=True),
    BalanceJobConfig(files=["a.json"], budget=["100", "A=5"], bins=7, seed=2, out="bal.json"),
    StatsConfig(files=["p.jsonl"], out="report", sources=["x", "y"], mos_min=10, mos_max=90.5, budget=3, bins=5,
                seed=1, scales=["x=10"]),
    WorldConfig(out="w", images=10, eval_images=5, size=48, seed=3, pristine_share=0.2, scene_share=0.25,
                feedbacks_per_image=4, questions_per_eval_image=3),
    ValidateConfig(file="x.json", format="mos", skip_invalid=True, image_root="imgs", strict=True),
    ExportConfig(file="qi.json", to="llava", out="o", name="ds", image_prefix="data/", skip_invalid=True),
    RateConfig(images=["a.png", "b c.png"], model="tiny:llava", batch_size=4, compile=True, device="cpu",
               dtype="float32", trust_remote_code=True, max_megapixels=8.0),
    ChatConfig(models=["tiny:llava", "runs/x"], prompt="Is it 'clear'?", images=["i.png", "j k.png"], rate=True,
               device="cpu", max_new_tokens=32, temperature=0.5, top_p=0.9, seed=3),
]
IDS = [type(c).__name__ for c in EXAMPLES]


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


@pytest.mark.parametrize("config", EXAMPLES, ids=IDS)
def test_shell_line_rebuilds_the_config(config):
    argv = shell_args(config)
    assert argv[0] == "qinstruct"
    assert config_from_args(type(config), parse(argv[1:])) == config


@pytest.mark.parametrize("config", EXAMPLES, ids=IDS)
def test_help_lists_every_field(config, capsys):
    command = list(type(config).COMMAND)
    assert main([*command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for field in job_fields(type(config)):
        name = field.name if field.metadata.get("positional") else flag_name(field)
        assert name in text, name
        first_words = " ".join(field.metadata["help"].split()[:4])
        assert first_words in text, first_words


@pytest.mark.parametrize("config", EXAMPLES, ids=IDS)
def test_yaml_written_back_reads_the_same(config, tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(config_to_yaml(config))
    args = parse([*type(config).COMMAND, "--config", str(path)])
    assert config_from_args(type(config), args) == config


# per job: a wrong type and an out-of-range (or unknown-choice) value; every job also gets an unknown key
BAD_VALUES = {
    "CorruptJobConfig": [("seed: many", "seed: expected an integer, got 'many'"),
                         ("workers: 0", "workers: expected a value >= 1")],
    "ConvertJobConfig": [("timeout: soon", "timeout: expected a number"), ("limit: -1", "limit: expected a value >= 0")],
    "Table1Config": [("skip_invalid: 3", "skip_invalid: expected true or false"),
                     ("files: a.json", "files: expected a list")],
    "BalanceJobConfig": [("bins: ten", "bins: expected an integer"), ("bins: 1", "bins: expected a value >= 2")],
    "StatsConfig": [("mos_min: low", "mos_min: expected a number"), ("mos_max: 101", "mos_max: expected a value")],
    "WorldConfig": [("size: big", "size: expected an integer"), ("size: 8", "size: expected a value >= 32")],
    "ValidateConfig": [("strict: maybe", "strict: expected true or false"),
                       ("format: csv", "format: expected one of")],
    "ExportConfig": [("name: [a]", "name: expected a string"), ("to: docx", "to: expected one of")],
    "RateConfig": [("batch_size: 1.5", "batch_size: expected an integer"),
                   ("batch_size: 0", "batch_size: expected a value >= 1")],
    "ChatConfig": [("temperature: hot", "temperature: expected a number"),
                   ("max_new_tokens: 0", "max_new_tokens: expected a value >= 1")],
}
BAD_CASES = [(config, text, message) for config in EXAMPLES
             for text, message in [("colour: red", "unknown key(s) colour"), *BAD_VALUES[type(config).__name__]]]


@pytest.mark.parametrize("config, text, message", BAD_CASES,
                         ids=[f"{type(c).__name__}-{t.split(':')[0]}" for c, t, _ in BAD_CASES])
def test_bad_yaml_is_one_line_and_exit_2(config, text, message, tmp_path, capsys):
    path = tmp_path / "job.yaml"
    path.write_text(text + "\n")
    assert main([*type(config).COMMAND, "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err and message in err


def test_flag_after_config_overrides_it(tmp_path, capsys):
    path = tmp_path / "world.yaml"
    path.write_text(config_to_yaml(WorldConfig(out=str(tmp_path / "w"), images=10, seed=3)))
    assert main(["demo", "world", "--config", str(path), "--seed", "4", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert "seed: 4" in printed and "images: 10" in printed
    assert main(["demo", "world", "--config", str(path), "--images", "12", "--print-command"]) == 0
    assert capsys.readouterr().out.strip() == shell_line(WorldConfig(out=str(tmp_path / "w"), images=12, seed=3))


def test_wrong_flag_values_exit_2_without_traceback(capsys):
    for argv, message in [(["rate", "x.png", "--model", "tiny:llava", "--dtype", "int3"], "invalid choice: 'int3'"),
                          (["rate", "x.png", "--model", "tiny:llava", "--batch-size", "0"], "--batch-size: expected"),
                          (["chat", "--model", "tiny:llava", "--prompt", "hi", "--max-new-tokens", "0"],
                           "--max-new-tokens: expected a value >= 1"),
                          (["data", "export", "a.json", "--to", "docx", "--out", "o"], "invalid choice: 'docx'"),
                          (["stats", "report", "--out", "o"], "missing required key 'files'")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
