"""The scorer API (qinstruct.create_scorer / list_scorers) and the known-checkpoints table: deterministic,
batch-invariant in fp32, paths / PIL / tensors alike, a self-check that tells a model that sees corruption from
one that does not, and every known checkpoint listed with how to get it."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qinstruct import create_scorer, list_scorers
from qinstruct.cli import main
from qinstruct.demo.photos import demo_photo
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
    assert "self-check PASS" in capsys.readouterr().out
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
