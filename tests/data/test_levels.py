"""MOS -> Q-Align rating levels: every label of Q-Align's own KonIQ items, and the range taken from the file."""
import json

import pytest

from qinstruct.cli import main
from qinstruct.data.levels import TEMPLATES, level_of


def test_every_label_of_qalign_koniq(shared_data, tmp_path):
    reference = json.loads((shared_data / "qalign/train_koniq_first300.json").read_text())
    mos = [{"img_path": item["image"], "gt_score": float(item["id"].split("->")[1])} for item in reference]
    (tmp_path / "koniq.json").write_text(json.dumps(mos))
    # the KonIQ training split's MOS range (not in this repository) lies in [6.3, 7.0] x [85.05, 85.5]: the only
    # ranges for which equal fifths give all 300 of Q-Align's labels
    assert main(["data", "levels", f"{tmp_path / 'koniq.json'}=koniq", "--out", str(tmp_path / "items.json"),
                 "--range", "6.5", "85.3", "--image-token", "<|image|>"]) == 0
    items = json.loads((tmp_path / "items.json").read_text())
    assert len(items) == 300
    for ours, theirs in zip(items, reference):
        assert ours["image"] == theirs["image"]
        assert ours["conversations"][1]["value"] == theirs["conversations"][1]["value"], theirs["id"]
        question = ours["conversations"][0]["value"]
        assert question.endswith("\n<|image|>") and question.split("\n")[0] in TEMPLATES
    assert len({item["conversations"][0]["value"] for item in items}) == len(TEMPLATES)  # templates varied


def test_range_from_the_file_and_boundaries(tmp_path, capsys):
    assert level_of(20.0, 0, 100) == "bad" and level_of(20.01, 0, 100) == "poor" and level_of(100, 0, 100) == \
        "excellent" and level_of(0, 0, 100) == "bad"
    (tmp_path / "mos.json").write_text(json.dumps([{"img_path": f"{i}.jpg", "gt_score": f"{s} "}
                                                   for i, s in enumerate([1.0, 1.9, 3.0, 4.1, 5.0])]))
    assert main(["data", "levels", str(tmp_path / "mos.json"), "--out", str(tmp_path / "o.json")]) == 0
    levels = [i["conversations"][1]["value"].split()[-1][:-1] for i in json.loads((tmp_path / "o.json").read_text())]
    assert levels == ["bad", "poor", "fair", "good", "excellent"]
    assert "bad 1, poor 1, fair 1, good 1, excellent 1" in capsys.readouterr().err
    assert main(["data", "levels", str(tmp_path / "mos.json"), "--out", str(tmp_path / "o.json"), "--range", "5",
                 "1"]) == 2


@pytest.mark.parametrize("mos, level", [(6.5 + 15.76 * k + 1, name) for k, name in
                                        enumerate(["bad", "poor", "fair", "good", "excellent"])])
def test_levels_are_equal_fifths(mos, level):
    assert level_of(mos, 6.5, 85.3) == level
