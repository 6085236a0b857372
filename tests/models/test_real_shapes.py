"""Real shapes without weights (meta device): every name of the released LLaVA-v1.5-7B/13B (original layout) and
mPLUG-Owl2-7B checkpoints finds a parameter of the right shape in the model the studio builds, none is left
unmapped and no parameter is left empty."""
import json
from pathlib import Path

import pytest

from qinstruct.models.real_shapes import llava_check, owl2_check

OWL2_KEYS = Path(__file__).resolve().parents[1] / "fixtures" / "owl2_original" / "owl2_7b_published_keys.json"


@pytest.mark.parametrize("size,parameters", [("7b", 7_062_902_784), ("13b", 13_350_839_296)])
def test_original_llava_maps_every_key(size, parameters):
    report = llava_check(size)
    print(report.line())
    assert report.problems == [] and report.parameters == parameters


def test_mplug_owl2_7b_has_every_published_name_and_shape():
    report = owl2_check(json.loads(OWL2_KEYS.read_text()))
    print(report.line())
    assert report.problems == [] and report.keys == 862


def test_a_wrong_shape_or_an_unknown_key_is_reported():
    published = json.loads(OWL2_KEYS.read_text())
    published["shapes"]["model.layers.0.self_attn.k_proj.multiway.1.weight"] = [4096, 1024]
    published["shapes"]["model.layers.0.self_attn.extra.weight"] = [1]
    problems = owl2_check(published).problems
    assert any("multiway.1.weight: shape (4096, 1024)" in p for p in problems)
    assert any("extra.weight: no such parameter" in p for p in problems)
