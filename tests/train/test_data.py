"""The mixture: kinds recognised from the turns (as the real Q-Instruct release needs), strategies pick their
data, ratios, caps, fractions, ShareGPT input."""
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from qinstruct.cli import main
from qinstruct.config import ConfigError
from qinstruct.data.kinds import item_kind
from qinstruct.data.loaders import load_instructions
from qinstruct.train.config import TrainConfig, parse_source
from qinstruct.train.data import build_mixture

PATHWAY = ("The photo shows a cat on a sofa. The focus is soft and the fur has lost its detail; some noise is "
           "visible in the shadows on the left. Overall, the quality of the image is poor.")


def release_like(folder: Path) -> Path:
    """Items shaped as in the Q-Instruct release (no per-item type), one image each."""
    Image.new("RGB", (8, 8)).save(folder / "a.jpg")
    turn = lambda q, a: [{"from": "human", "value": f"<image>\n{q}"}, {"from": "gpt", "value": a}]  # noqa: E731
    items = [("Describe and evaluate the quality of the image.", PATHWAY, "pathway"),
             ("Is the image blurry?", "Yes.", "yes-no"),
             ("Is there noise in the image?", "No, there is no noise.", "yes-no"),
             ("What distortion affects the image?\nA. noise\nB. blur\nC. fog\nD. none\nAnswer with the option's "
              "letter from the given choices directly.", "B", "mcq"),
             ("How is the sharpness of the image?", "Poor", "what-how"),
             ("Which object is the most blurred?", "The cat on the left", "what-how")]
    rows = [{"id": str(i), "image": "a.jpg", "conversations": turn(q, a)} for i, (q, a, _) in enumerate(items)]
    rows.append({"id": "x", "image": "a.jpg", "conversations": turn("Why is it blurry?", "The camera moved.")
                 + [{"from": "human", "value": "How to avoid it?"}, {"from": "gpt", "value": "A tripod."}]})
    rows.append({"id": "t", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}]})
    path = folder / "release.json"
    path.write_text(json.dumps(rows))
    return path


def test_kinds_recognised_from_the_turns(tmp_path):
    items = load_instructions(release_like(tmp_path)).items
    kinds = [item_kind(item) for item in items]
    assert kinds == ["pathway", "yes-no", "yes-no", "mcq", "what-how", "what-how", "extended", "what-how"]


def test_strategies_choose_their_data(tmp_path):
    low = release_like(tmp_path)
    high = tmp_path / "content.json"
    high.write_text(json.dumps([{"id": f"c{i}", "image": "a.jpg", "type": "content", "conversations": [
        {"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "A cat."}]} for i in range(10)]))
    common = dict(model="tiny:llava", output_dir=str(tmp_path / "run"), high_level=[str(high)], low_level=[str(low)],
                  eval_fraction=0.0)
    levels = {strategy: Counter(e.level for e in build_mixture(TrainConfig(strategy=strategy, **common)).train)
              for strategy in ("mix", "after", "replace", "baseline")}
    assert levels == {"mix": {"high": 10, "low": 7}, "after": {"low": 7}, "replace": {"low": 7},
                      "baseline": {"high": 10}}
    mixture = build_mixture(TrainConfig(strategy="mix", **common))
    assert mixture.skipped_text_only == 1 and "1 text-only items skipped" in mixture.summary()


def test_ratios_caps_fraction_and_kind_ratios(tmp_path):
    low = release_like(tmp_path)
    base = dict(model="tiny:llava", output_dir=str(tmp_path / "run"), strategy="after", eval_fraction=0.0)
    count = lambda **kw: len(build_mixture(TrainConfig(**{**base, **kw})).train)  # noqa: E731
    assert count(low_level=[str(low)]) == 7
    assert count(low_level=[f"{low}=3"]) == 21 and count(low_level=[f"{low}=3@10"]) == 10
    assert count(low_level=[str(low)], low_level_fraction=0.5) == 4  # round(3.5) of the items
    by_kind = Counter(e.kind for e in build_mixture(TrainConfig(
        **base, low_level=[str(low)], kind_ratios=["yes-no=0", "pathway=4"])).train)
    assert by_kind["yes-no"] == 0 and by_kind["pathway"] == 4 and by_kind["mcq"] == 1
    first = [e.item.id for e in build_mixture(TrainConfig(**base, low_level=[f"{low}=2"])).train]
    again = [e.item.id for e in build_mixture(TrainConfig(**base, low_level=[f"{low}=2"])).train]
    assert first == again  # seeded


def test_sharegpt_input_and_missing_images(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.jpg")
    (tmp_path / "lf.json").write_text(json.dumps([
        {"messages": [{"role": "user", "content": "<image>Is it sharp?"}, {"role": "assistant", "content": "Yes."}],
         "images": ["a.jpg"]},
        {"messages": [{"role": "user", "content": "Rate it."}, {"role": "assistant", "content": "Good."}],
         "images": ["gone.jpg"]}]))
    mixture = build_mixture(TrainConfig(model="tiny:llava", output_dir=str(tmp_path / "r"), strategy="after",
                                        low_level=[str(tmp_path / "lf.json")], eval_fraction=0))
    assert [e.kind for e in mixture.train] == ["yes-no"] and mixture.skipped_missing == 1
    assert "1 items skipped for a missing image" in mixture.summary()


@pytest.mark.parametrize("spec, message", [("a.json=x", r"FILE\[=RATIO\]\[@CAP\]"), ("a.json=-1", "RATIO from 0 to 1000"),
                                           ("a.json@0", "CAP >= 1")])
def test_bad_sources(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_source(spec)


def test_config_checks(tmp_path, capsys):
    argv = ["train", "--model", "tiny:llava", "--output-dir", str(tmp_path / "r")]
    assert main([*argv, "--strategy", "mix", "--low-level", "a.json"]) == 2
    assert "high_level: the mix strategy trains on high-level data" in capsys.readouterr().err
    assert main([*argv, "--strategy", "after", "--low-level", "a.json", "--deepspeed", "zero3"]) == 2
    assert "through --launcher accelerate" in capsys.readouterr().err
    assert main([*argv, "--strategy", "after", "--low-level", "a.json", "--learning-rate", "-1"]) == 2
    assert "--learning-rate: expected a value > 0" in capsys.readouterr().err
    assert main([*argv, "--strategy", "after", "--low-level", str(tmp_path / "none.json")]) == 2
    assert "none.json: no such file" in capsys.readouterr().err


def test_items_about_one_image_joined_into_conversations(tmp_path):
    low = release_like(tmp_path)  # 7 items with an image, all about a.jpg
    Image.new("RGB", (8, 8)).save(tmp_path / "b.jpg")
    high = tmp_path / "content.json"
    high.write_text(json.dumps([{"id": f"c{i}", "image": image, "type": "content", "conversations": [
        {"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": f"Thing {i}."}]}
        for i, image in enumerate(["a.jpg", "b.jpg", "b.jpg"])]))
    config = TrainConfig(model="tiny:llava", output_dir=str(tmp_path / "run"), high_level=[str(high)],
                         low_level=[str(low)], eval_fraction=0.0, join_per_image=4)
    mixture = build_mixture(config)
    by_image = Counter(example.image.name for example in mixture.train)
    assert by_image == {"a.jpg": 2, "b.jpg": 1}  # 8 items about a.jpg in conversations of 4; b.jpg's two joined
    answers = sorted(turn.value for e in mixture.train for turn in e.item.conversations if turn.role == "gpt")
    assert len(answers) == 11 and "Thing 0." in answers and "A tripod." in answers  # every turn kept, once
    for example in mixture.train:
        assert len(example.item.meta["joined"]) <= 4
        assert example.level == ("low" if example.image.name == "a.jpg" else "high")
    assert "joined per image from 10 items" in mixture.summary()
    assert [e.item.meta["joined"] for e in build_mixture(config).train] == \
        [e.item.meta["joined"] for e in mixture.train]  # seeded
