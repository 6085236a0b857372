"""Config dataclasses: YAML and mappings in, clear one-line errors out, YAML with comments back."""
from dataclasses import dataclass, field

import pytest
import yaml

from qinstruct.config import ConfigError, config_from_mapping, config_to_yaml, load_config, option
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
    level: str = option("low", help="a level", choices=["low", "high"])
    ratio: float = option(0.5, help="a ratio", min=0, max=1)
    count: int = option(1, help="a count", gt=0)


def test_nested_and_optional_fields():
    config = config_from_mapping(Outer, {"name": "x", "sizes": [1, 2], "inner": {"rate": 2}, "maybe": None})
    assert config.inner.rate == 2.0 and config.sizes == [1, 2] and config.maybe is None


@pytest.mark.parametrize("data, message", [
    ({}, "cfg: missing required key 'name'"),
    ({"name": 3}, r"^cfg: name: expected a string, got 3$"),
    ({"name": "x", "sizes": "12"}, r"cfg: sizes: expected a list"),
    ({"name": "x", "sizes": [1, "a"]}, r"cfg: sizes\[1\]: expected an integer"),
    ({"name": "x", "inner": {"rate": "fast"}}, r"cfg: inner.rate: expected a number"),
    ({"name": "x", "inner": {"speed": 1}}, r"cfg: inner: unknown key\(s\) speed"),
    ({"name": "x", "maybe": True}, r"cfg: maybe: expected an integer"),
    ({"name": "x", "level": "mid"}, r"cfg: level: expected one of low, high, got 'mid'"),
    ({"name": "x", "ratio": 1.5}, r"cfg: ratio: expected a value >= 0 and <= 1, got 1.5"),
    ({"name": "x", "ratio": float("nan")}, r"cfg: ratio: expected a value >= 0 and <= 1, got nan"),
    ({"name": "x", "count": 0}, r"cfg: count: expected a value > 0, got 0"),
    ({"name": "x", "colour": 1}, r"cfg: unknown key\(s\) colour; known: name, sizes"),
    ([1, 2], "expected a mapping"),
])
def test_errors_name_the_field(data, message):
    with pytest.raises(ConfigError, match=message) as info:
        config_from_mapping(Outer, data, "cfg")
    assert "\n" not in str(info.value)


def test_yaml_round_trip_with_comments(tmp_path):
    config = CorruptJobConfig(source="in", out="out", corruptions=["fog"], severities=[1, 2])
    text = config_to_yaml(config)
    assert text.startswith("# qinstruct corrupt --config THIS_FILE")
    assert "# output folder; holds the images and manifest.jsonl" in text
    assert "image_format: png  # output format: png (lossless), jpg or webp [png, jpg, webp]" in text
    path = tmp_path / "job.yaml"
    path.write_text(text)
    assert load_config(CorruptJobConfig, path) == config
    assert yaml.safe_load(text)["severities"] == [1, 2]


def test_bad_files_are_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("source: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_config(CorruptJobConfig, path)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(CorruptJobConfig, tmp_path / "none.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("source: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="latin.yaml: not UTF-8 text"):
        load_config(CorruptJobConfig, latin)
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(CorruptJobConfig, tmp_path)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of keys, got list"):
        load_config(CorruptJobConfig, listing)


def test_validation_runs_after_parsing():
    with pytest.raises(ConfigError, match="job: severities: expected one of 1, 2, 3, 4, 5, got 9"):
        config_from_mapping(CorruptJobConfig, {"source": "a", "out": "b", "corruptions": ["fog"], "severities": [9]},
                            "job")
    with pytest.raises(ConfigError, match="job: random_assign picks the corruption itself"):
        config_from_mapping(CorruptJobConfig, {"source": "a", "out": "b", "corruptions": ["fog"],
                                               "random_assign": True}, "job")
