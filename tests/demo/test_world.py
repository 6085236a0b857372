"""The embedded demo world: reproducible, complete, valid in our own formats, honest about being synthetic."""
import filecmp
import json
from collections import Counter

import numpy as np
import pytest

from qinstruct.cli import main
from qinstruct.data.loaders import load_instructions, load_llvisionqa, load_mos_list, load_pathway
from qinstruct.demo.scenes import photo_crop
from qinstruct.demo.world import IMPACT, MAX_DROP, WorldConfig, build_world, synthetic_mos
from qinstruct.runs import RUN_FILES, read_status
from qinstruct.workspace import world_ready


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    build_world(WorldConfig(out=str(out), images=150, eval_images=60, seed=7))
    return out


def test_same_seed_same_files_other_seed_other_files(world, tmp_path):
    assert main(["demo", "world", "--out", str(tmp_path / "again"), "--images", "150", "--eval-images", "60",
                 "--seed", "7"]) == 0
    comparison = filecmp.dircmp(world, tmp_path / "again", ignore=list(RUN_FILES))  # they name their folder
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    for sub in ("images/train", "images/eval", "images/pristine", "eval"):
        match, mismatch, errors = filecmp.cmpfiles(world / sub, tmp_path / "again" / sub,
                                                   [p.name for p in (world / sub).iterdir()], shallow=False)
        assert not mismatch and not errors and match
    build_world(WorldConfig(out=str(tmp_path / "other"), images=150, eval_images=60, seed=8))
    assert (world / "pathway.jsonl").read_bytes() != (tmp_path / "other" / "pathway.jsonl").read_bytes()


def test_content_questions_ask_about_the_held_out_scenes_only(world):
    questions = json.loads((world / "eval" / "content.json").read_text())
    assert all(q["content"] and q["correct_ans"] in q["candidates"] for q in questions)
    asked = {q["img_path"] for q in questions}
    assert asked < {f"images/eval/{i:06d}.png" for i in range(60)}  # held-out, and not the photographs
    assert 15 <= len(asked) <= 45 and len(questions) == 2 * len(asked)  # scene_share 0.5; two per scene
    assert {q["question"].split()[1] for q in questions} == {"shape", "colour", "many"}
    assert len(load_llvisionqa(world / "eval" / "content.json").items) == len(questions)  # the A1 layout


def test_pathway_records(world):
    result = load_pathway(world / "pathway.jsonl", image_root=world, strict=True)
    records = result.items
    assert len(records) == 150 and world_ready(world)
    assert all(r.meta["synthetic"] is True and len(r.feedbacks) >= 3 for r in records)
    words = [len(f.split()) for r in records for f in r.feedbacks]
    assert 38 <= np.mean(words) <= 52, np.mean(words)  # the paper's feedbacks average 46.4 words
    corrupted = [r for r in records if r.meta["corruption"]]
    assert 0.8 * 150 <= len(corrupted) < 150  # pristine_share 0.1
    assert len({r.meta["corruption"] for r in corrupted}) >= 12  # the paper's random 1-of-15 assignment
    assert {r.source for r in records} >= {"scenes", "photos-natural", "photos-texture"}
    for r in records:
        assert all(f.rstrip().endswith(".") for f in r.feedbacks)
        assert any(w in r.feedbacks[0].split()[-1] for w in ("excellent", "good", "fair", "poor", "bad"))


def test_feedbacks_speak_of_the_known_distortion_and_content(world):
    records = load_pathway(world / "pathway.jsonl").items
    keywords = {"defocus_blur": "blur", "motion_blur": "motion", "gaussian_noise": "noise", "fog": "fog",
                "pixelate": "pixel", "snow": "snow", "frost": "frost", "brightness": "bright"}
    checked = 0
    for r in records:
        word = keywords.get(r.meta["corruption"])
        if word:
            assert all(word in f.lower() or "exposed" in f.lower() for f in r.feedbacks), (r.meta, r.feedbacks)
            checked += 1
        if r.meta["content"]["kind"] == "scene":
            obj = r.meta["content"]["objects"][0]
            assert any(obj["colour"] in f for f in r.feedbacks)
    assert checked >= 10


def test_mos_follows_severity(world):
    records = load_pathway(world / "pathway.jsonl").items
    pristine = [r.mos for r in records if not r.meta["corruption"]]
    severe = [r.mos for r in records if r.meta["severity"] and r.meta["severity"] >= 4]
    assert np.mean(pristine) > np.mean(severe) + 25


def test_content_data_and_eval_sets(world):
    content = load_instructions(world / "instruct_content.json", image_root=world, strict=True).items
    assert len(content) == 150 and all(i.meta["type"] == "content" for i in content)
    lowlevel = ("blur", "noise", "quality", "exposure")
    assert not any(w in t.value.lower() for i in content for t in i.conversations for w in lowlevel)
    questions = load_llvisionqa(world / "eval/llvisionqa.json", image_root=world, strict=True).items
    assert len(questions) == 120
    assert set(Counter((q.type, q.concern) for q in questions)) == {(t, c) for t in range(3) for c in range(4)}
    yes_no = Counter(q.correct_ans for q in questions if q.type == 0)
    assert abs(yes_no["Yes"] - yes_no["No"]) <= 0.3 * sum(yes_no.values())
    assert all(q.img_path.startswith("images/eval/") for q in questions)
    mos = load_mos_list(world / "eval/mos.json", image_root=world, strict=True).items
    assert len(mos) == 60
    summary = json.loads((world / "world.json").read_text())
    assert summary["synthetic"] is True and summary["counts"]["feedbacks"] == 450


def test_world_folder_is_a_run_folder(world):
    status = read_status(world)
    assert status.kind == "demo-world" and status.state == "done" and status.summary["eval_questions"] == 120
    assert status.command == f"qinstruct demo world --out {world} --images 150 --eval-images 60 --seed 7"


def pixel_detail(image) -> float:
    """Mean absolute Laplacian of the grey image: how much happens from one pixel to the next."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    return float(np.abs(4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2]
                        - grey[1:-1, 2:]).mean())


def test_native_crops_are_as_soft_as_a_photographs_own_pixels():
    shrunk = [photo_crop(np.random.default_rng([5, i]), 64).image for i in range(40)]
    native = [photo_crop(np.random.default_rng([5, i]), 64, native_share=1.0).image for i in range(40)]
    assert all(image.size == (64, 64) for image in shrunk + native)
    # measured 30.9 and 18.0: a 64-96 px window shrunk to 64 keeps the photograph's own softness
    assert np.mean([pixel_detail(i) for i in native]) < 0.7 * np.mean([pixel_detail(i) for i in shrunk])


def test_the_noise_curve_prices_the_noise_corruptions_alone():
    steep = [0.45, 0.6, 0.75, 0.88, 1.0]
    cases = [("gaussian_noise", 1, IMPACT["gaussian_noise"] * MAX_DROP * (0.45 - 0.25)),
             ("shot_noise", 2, IMPACT["shot_noise"] * MAX_DROP * (0.6 - 0.45)),
             ("defocus_blur", 1, 0.0), (None, 0, 0.0)]
    for corruption, severity, extra in cases:
        default = synthetic_mos(np.random.default_rng(1), "scenes", corruption, severity)
        priced = synthetic_mos(np.random.default_rng(1), "scenes", corruption, severity, steep)
        assert default - priced == pytest.approx(extra, abs=0.011), corruption


def test_world_knobs_are_checked_and_recorded(tmp_path, capsys):
    assert main(["demo", "world", "--out", str(tmp_path / "w"), "--noise-curve", "0.5", "0.4", "0.6", "0.8", "1"]) != 0
    assert "noise_curve: expected 5 shares that never fall" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()  # refused before anything is written
    assert main(["demo", "world", "--out", str(tmp_path / "w"), "--images", "20", "--eval-images", "10",
                 "--native-share", "0.5", "--noise-curve", "0.4", "0.5", "0.7", "0.9", "1"]) == 0
    recorded = json.loads((tmp_path / "w" / "world.json").read_text())["config"]
    assert recorded["native_share"] == 0.5 and recorded["noise_curve"] == [0.4, 0.5, 0.7, 0.9, 1.0]
