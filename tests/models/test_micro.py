"""The micro family: a LLaVA with a conv tower, registered with the Auto classes, through the model layer."""
import json
import subprocess
import sys
from pathlib import Path

import torch
from PIL import Image

from qinstruct.models.loading import load_model
from qinstruct.models.micro import MicroTower, build_micro
from qinstruct.models.types import GenerationOptions

ROOT = Path(__file__).resolve().parents[2]


def saved_micro(folder: Path) -> Path:
    model, processor = build_micro(["A red square on grey clutter.", "Heavy noise covers the sky."], size="small")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    (folder / "qinstruct.json").write_text(json.dumps({"label": "micro (untrained)", "trained": False}))
    return folder


def test_a_saved_micro_model_loads_as_itself_in_a_fresh_process(tmp_path):
    folder = saved_micro(tmp_path / "micro")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llava" and config["vision_config"]["model_type"] == "qinstruct_micro_tower"
    script = ("import sys; from qinstruct.models.loading import load_model; "
              "m = load_model(sys.argv[1]).model; print(type(m.model.vision_tower).__name__, m.config.image_seq_length)")
    out = subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["MicroTower", "64"]  # not rebuilt as CLIP


def test_answers_ratings_and_likelihoods_through_the_model_layer(tmp_path):
    loaded = load_model(str(saved_micro(tmp_path / "micro")))
    assert isinstance(loaded.model.model.vision_tower, MicroTower)
    tokenizer = loaded.tokenizer
    assert len(tokenizer(" good", add_special_tokens=False)["input_ids"]) == 1  # merges ran to completion
    images = [Image.new("RGB", (100, 70), (200, 20, 20)), Image.new("RGB", (33, 90), (20, 20, 200))]  # any size
    prompt = loaded.processor.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {
        "type": "text", "text": "Is this image clear?"}]}], add_generation_prompt=True)
    features = loaded.processor(text=[prompt], images=[images[0].resize((64, 64))], return_tensors="pt")
    assert int((features["input_ids"] == loaded.model.config.image_token_id).sum()) == 64
    answers = loaded.answer_many(["Is this image clear?"] * 2, images, GenerationOptions(max_new_tokens=6))
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    ratings = loaded.rate(images)
    assert all(0 < r.p_good < 1 and 1 <= r.score5 <= 5 and not r.approximate for r in ratings)
    whole, tail = loaded.option_losses("What is the main distortion?", ["blur", "noise", "fog"], images[0])
    assert len(whole) == len(tail) == 3 and all(torch.isfinite(torch.tensor(whole)))
