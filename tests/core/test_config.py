"""Config dataclasses: YAML and mappings in, clear errors out, YAML with comments back."""
from dataclasses import dataclass, field

import pytest
import yaml

from qinstruct.config import ConfigError, config_from_mapping, config_to_yaml, load_config
from qinstruct.corrupt.batch import CorruptJobConfig


@dataclass
class Inner:
    rate: float = field(default=0.1, metadata={"help": "a rate"})


@dataclass
class Outer:
    name: str = field(metadata={"help": "required name"})
    sizes: list[int] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)
    maybe: int | None = None


def test_nested_and_optional_fields():
    config = config_from_mapping(Outer, {"name": "x", "sizes": [1, 2], "inner": {"rate": 2}, "maybe": None})
    assert config.inner.rate == 2.0 and config.sizes == [1, 2] and config.maybe is None


@pytest.mark.parametrize("data, message", [
    ({}, "missing required field 'name'"),
    ({"name": 3}, r"cfg.name: expected a string"),
    ({"name": "x", "sizes": "12"}, r"cfg.sizes: expected a list"),
    ({"name": "x", "sizes": [1, "a"]}, r"cfg.sizes\[1\]: expected an integer"),
    ({"name": "x", "inner": {"rate": "fast"}}, r"cfg.inner.rate: expected a number"),
    ({"name": "x", "inner": {"speed": 1}}, r"cfg.inner: unknown field\(s\) speed"),
    ({"name": "x", "maybe": True}, r"cfg.maybe: expected an integer"),
    ([1, 2], "expected a mapping"),
])
def test_errors_name_the_field(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(Outer, data, "cfg")


def test_yaml_round_trip_with_comments(tmp_path):
    config = CorruptJobConfig(source="in", out="out", corruptions=["fog"], severities=[1, 2])
    text = config_to_yaml(config)
    assert "# output folder; holds the images and manifest.jsonl" in text
    path = tmp_path / "job.yaml"
    path.write_text(text)
    assert load_config(CorruptJobConfig, path) == config
    assert yaml.safe_load(text)["severities"] == [1, 2]


def test_bad_yaml_and_missing_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("source: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(CorruptJobConfig, path)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(CorruptJobConfig, tmp_path / "none.yaml")


def test_validation_runs_after_parsing():
    with pytest.raises(ConfigError, match="job: severities must be in 1..5"):
        config_from_mapping(CorruptJobConfig, {"source": "a", "out": "b", "corruptions": ["fog"], "severities": [9]},
                            "job")
