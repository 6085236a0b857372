"""The scorer API (qinstruct.create_scorer / list_scorers) and the known-checkpoints table: deterministic,
batch-invariant in fp32, paths / PIL / tensors alike, a self-check that tells a model that sees corruption from
one that does not, and every known checkpoint listed with how to get it."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from qinstruct import create_scorer, list_scorers
from qinstruct.cli import main
from qinstruct.photos import demo_photo
from qinstruct.scorer import ScorerError

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = [demo_photo(name, size) for name in ("chelsea", "coffee", "rocket", "astronaut") for size in (64, 150)]


@pytest.mark.parametrize("spec,kind", [("micro-mix", "p_good"), ("tiny:llava", "qalign"),
                                       ("tests/fixtures/owl2_original", "qalign")])
def test_batch_invariant_deterministic_and_any_input(spec, kind, tmp_path):
    scorer = create_scorer(str(ROOT / spec) if spec.startswith("tests/") else spec, kind=kind)
    batched = scorer(PHOTOS, batch_size=8)
    alone = torch.cat([scorer(photo, batch_size=1) for photo in PHOTOS])
    assert batched.shape == (8,) and batched.dtype == torch.float64
    assert torch.allclose(batched, alone, atol=1e-5, rtol=0)  # batch 8 = batch 1 in fp32
    assert torch.equal(scorer(PHOTOS, batch_size=8), batched)  # deterministic
    low, high = scorer.score_range
    assert bool(((batched >= low) & (batched <= high)).all()) and scorer.lower_better is False
    tensor = torch.stack([torch.from_numpy(np.asarray(PHOTOS[0])).permute(2, 0, 1).float() / 255])
    assert torch.allclose(scorer(tensor), batched[:1], atol=1e-6)  # a [0, 1] tensor scores as its picture
    PHOTOS[0].save(tmp_path / "a.png")
    assert torch.allclose(scorer(str(tmp_path / "a.png")), batched[:1], atol=1e-6)


def test_self_check_tells_a_model_that_sees_corruption_from_one_that_does_not(capsys):
    assert create_scorer("micro-mix").self_check().passed
    assert not create_scorer("micro-baseline").self_check().passed  # flat: it never learnt low-level quality
    assert not create_scorer("tiny:llava").self_check().passed  # random weights
    assert main(["rate", "--self-check", "--model", str(ROOT / "assets/models/micro-mix")]) == 0
    out = capsys.readouterr().out
    assert "self-check PASS" in out
    # the README quotes this run's curves ("blur 0.764 → ...; noise ..."): deterministic, so they must not go stale
    curves = dict(re.findall(r"(?:defocus_|gaussian_)(blur|noise) (\d\.\d{3} → [\d. /]+\d)", out))
    assert set(curves) == {"blur", "noise"}
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"(blur {curves['blur']}; noise {curves['noise']}" in readme, curves
    assert main(["rate", "--self-check", "--model", "tiny:llava", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["passed"] is False


def test_what_the_scorer_refuses():
    with pytest.raises(ScorerError, match="on the CPU the scorer runs in float32"):
        create_scorer("tiny:llava", device="cpu", dtype="float16")
    with pytest.raises(ScorerError, match="choose p_good or qalign"):
        create_scorer("tiny:llava", kind="niqe")
    with pytest.raises(ScorerError, match="neither deterministic nor batch-invariant"):
        create_scorer("openai:gpt-4o@http://127.0.0.1:9/v1")
    scorer = create_scorer("tiny:llava")
    with pytest.raises(ScorerError, match=r"float \(N, 3, H, W\)"):
        scorer(torch.zeros(2, 4, 8, 8))
    with pytest.raises(ScorerError, match="not an image file|no such"):
        scorer("/nope/missing.png")


def test_list_scorers_and_the_known_checkpoints(capsys):
    from qinstruct.models.known import KNOWN

    assert {"micro-mix", "micro-baseline"} <= set(list_scorers())
    assert main(["models", "--known", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["hub_id"] for row in rows] == [k.hub_id for k in KNOWN]
    assert all(row["on_disk"] or row["fetch"] == f"hf download {row['hub_id']}" for row in rows)  # offline here
    assert {row["family"] for row in rows} >= {"llava", "mplug-owl2"}
    readme = (ROOT / "README.md").read_text()
    assert all(k.hub_id in readme for k in KNOWN)  # the README's table is this one


@pytest.fixture(scope="module")
def llava_scorer():
    return create_scorer("tiny:llava")


@pytest.fixture(scope="module")
def mix_scorer():
    return create_scorer("micro-mix")  # trained: its scores tell pictures apart, unlike random weights


def pixels(value, shape=(1, 3, 8, 8)):
    return torch.full(shape, value)


BAD_IMAGES = {  # name -> (images, what the one line says)
    "NaN": (pixels(float("nan")), r"finite values in \[0, 1\]; this one holds NaN"),
    "inf": (pixels(float("inf")), "finite values in .* infinite values"),
    "0..255": (pixels(255.0), r"values in \[0, 1\]; this one holds values up to 255 — divide by 255"),
    "overshoot": (pixels(1.2), "values up to 1.2 — clamp it"),
    "negative": (pixels(-1.0), "values down to -1 — undo the normalisation"),
    "no pixels": (torch.zeros(2, 3, 0, 0), r"at least 1 pixel .* got \(2, 3, 0, 0\)"),
    "None": (None, "images: got NoneType; the scorer takes a path, a PIL image"),
    "a number": (3, "images: got int; the scorer takes"),
    "a float array": (np.zeros((8, 8, 3)), r"NumPy array of images must be uint8 \(H, W, 3\) or \(N, H, W, 3\)"),
    "a grey array": (np.zeros((8, 8), np.uint8), r"must be uint8 \(H, W, 3\).* got \(8, 8\) uint8"),
    "channels last": (torch.zeros(1, 8, 8, 3), r"channels last\? use .permute\(0, 3, 1, 2\)"),
    "uint8 tensor": (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), r"uint8\? use .float\(\) / 255"),
    "None in a list": ([PHOTOS[0], None], r"images\[1\]: got NoneType; a list holds single images"),
    "a batch in a list": ([torch.zeros(2, 3, 8, 8)], r"images\[0\]: got Tensor of shape \(2, 3, 8, 8\)"),
    "a 0 x 0 picture": ([Image.new("RGB", (0, 0))], r"images\[0\]: image is 0x0 px"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_bad_images_are_one_scorer_error(llava_scorer, case):
    images, says = BAD_IMAGES[case]
    with pytest.raises(ScorerError, match=says) as caught:
        llava_scorer(images)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("size", [0, -3, True, 2.5, "8"])
def test_a_bad_batch_size_when_scoring(llava_scorer, size):
    with pytest.raises(ScorerError, match=f"batch_size {size!r}: give a whole number of images, 1 or more"):
        llava_scorer(PHOTOS[:2], batch_size=size)


BAD_OPTIONS = {  # name -> (create_scorer's arguments, what the one line says)
    "batch_size 0": (dict(batch_size=0), "batch_size 0: give a whole number of images, 1 or more"),
    "batch_size -3": (dict(batch_size=-3), "batch_size -3: give a whole number"),
    "batch_size True": (dict(batch_size=True), "batch_size True: give a whole number"),
    "batch_size 2.5": (dict(batch_size=2.5), "batch_size 2.5: give a whole number"),
    "dtype int3": (dict(dtype="int3"), "dtype 'int3': choose bfloat16, float16, float32"),
    "dtype float64": (dict(dtype="float64"), "dtype 'float64': choose bfloat16, float16, float32"),
    "rating_prompt bogus": (dict(rating_prompt="bogus"), "rating_prompt 'bogus': choose auto, q-bench, q-align, "
                                                         "one-align"),
    "rating_prompt None": (dict(rating_prompt=None), "rating_prompt None: choose auto"),
    "an mPLUG-Owl2 prompt on LLaVA": (dict(rating_prompt="q-align"), "'q-align' is written for mPLUG-Owl2 "
                                                                     "checkpoints and tiny:llava is a llava model"),
    "device gpu": (dict(device="gpu"), "device 'gpu': choose cuda, cuda:N, cpu or mps"),
    "no model": (dict(spec=None), "model None: give a scorer name"),
    "kind a list": (dict(kind=["p_good"]), r"kind \['p_good'\]: choose p_good or qalign"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_options_are_refused_when_the_scorer_is_made(case):
    arguments, says = BAD_OPTIONS[case]
    arguments = {"spec": "tiny:llava", **arguments}
    with pytest.raises(ScorerError, match=says):
        create_scorer(**arguments)


def test_a_torch_dtype_and_a_path_are_taken_as_their_names():
    scorer = create_scorer(ROOT / "assets/models/micro-mix", dtype=torch.float32, batch_size=np.int64(2))
    assert scorer.batch_size == 2 and next(scorer.model.model.parameters()).dtype == torch.float32


@pytest.mark.parametrize("empty", [[], (), iter([]), torch.zeros(0, 3, 8, 8), np.zeros((0, 8, 8, 3), np.uint8)],
                         ids=["list", "tuple", "iterator", "tensor", "array"])
def test_no_images_give_no_scores_whichever_way_they_come(llava_scorer, empty):
    scores = llava_scorer(empty)
    assert scores.shape == (0,) and scores.dtype == torch.float64


@pytest.mark.parametrize("empty", [[], torch.zeros(0, 3, 8, 8)], ids=["list", "tensor"])
def test_a_self_check_on_no_images_is_refused(llava_scorer, empty):
    with pytest.raises(ScorerError, match="self_check: no images"):
        llava_scorer.self_check(empty)


def test_numpy_arrays_and_lists_of_arrays_or_tensors_score_as_their_pictures(mix_scorer):
    pictures = [demo_photo(name, 64) for name in ("chelsea", "coffee", "rocket")]
    expected = mix_scorer(pictures)
    assert len(set(expected.tolist())) == 3  # the pictures' scores differ: equal scores below mean equal pixels
    arrays = [np.asarray(picture) for picture in pictures]
    assert torch.equal(mix_scorer(arrays[0]), mix_scorer(pictures[0]))  # (H, W, 3) uint8, as np.asarray(pil) gives
    assert torch.equal(mix_scorer(np.stack(arrays)), expected)  # (N, H, W, 3)
    assert torch.equal(mix_scorer(arrays), expected)  # a list of arrays
    tensors = [torch.from_numpy(array).permute(2, 0, 1).float() / 255 for array in arrays]
    assert torch.equal(mix_scorer(tensors), expected)  # a list of (3, H, W) tensors


def test_a_transparent_picture_scores_as_its_file_does(mix_scorer, tmp_path):
    picture = PHOTOS[1].convert("RGBA")
    picture.putalpha(Image.linear_gradient("L").resize(picture.size))  # transparent at the top
    picture.save(tmp_path / "alpha.png")
    assert torch.equal(mix_scorer(picture), mix_scorer(str(tmp_path / "alpha.png")))
