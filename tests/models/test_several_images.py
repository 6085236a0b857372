"""Several images in one question (Co-Instruct's and Q-Bench's pair questions): the families that take them put
one placeholder per image and use every image; a family that takes one says so in one line; an endpoint gets one
image part each; the chat command and a saved conversation keep both."""
import json
from pathlib import Path

import pytest
import torch

from qinstruct.cli import main
from qinstruct.models.chat import batch_inputs, prompt_text
from qinstruct.models.loading import load_model
from qinstruct.models.remote import remote_messages
from qinstruct.models.session import ChatSession, load_session, save_session
from qinstruct.models.types import Turn

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "owl2_original"
QUESTION = [Turn("Which image is sharper?")]


def last_logits(model, images):
    text = prompt_text(model, QUESTION, len(images))
    with torch.inference_mode():
        return model.model(**batch_inputs(model, [text], [images])).logits[0, -1]


@pytest.mark.parametrize("spec", ["tiny:llava", "tiny:qwen2-vl", "tiny:mplug-owl2"])
def test_each_image_is_seen_and_in_its_place(spec, photos):
    model = load_model(spec)
    text = prompt_text(model, QUESTION, 2)
    placeholder = {"tiny:llava": "<image>", "tiny:qwen2-vl": "<|image_pad|>", "tiny:mplug-owl2": "<|image|>"}[spec]
    assert text.count(placeholder) == 2
    both, swapped, first = last_logits(model, photos[:2]), last_logits(model, photos[1::-1]), last_logits(model,
                                                                                                          photos[:1])
    assert not torch.allclose(both, swapped) and not torch.allclose(both, first)  # order and second image matter


def test_two_images_through_the_chat_path_are_the_originals_pair_prompt():
    from PIL import Image

    owl2 = load_model(str(FIXTURE))
    reference = json.loads((FIXTURE / "reference.json").read_text())["prompts"]["pair"]
    assert prompt_text(owl2, QUESTION, 2) == reference["prompt"]
    images = [Image.open(FIXTURE / f"image{i}.png").convert("RGB") for i in range(2)]
    assert torch.allclose(last_logits(owl2, images), torch.tensor(reference["logits"][-1]), atol=1e-4)


def test_a_family_that_takes_one_image_says_so(photos):
    model = load_model("tiny:idefics3")
    with pytest.raises(Exception, match="idefics3 models answer about one image per question, not 2"):
        list(model.stream(QUESTION, photos[:2]))


def test_an_endpoint_gets_one_part_per_image(photos):
    parts = remote_messages(QUESTION, photos[:2])[0]["content"]
    assert [part["type"] for part in parts] == ["image_url", "image_url", "text"]


def test_chat_command_with_two_images_on_two_families(tmp_path, photos, capsys):
    paths = []
    for index, photo in enumerate(photos[:2]):
        paths += ["--image", str(tmp_path / f"{index}.png")]
        photo.save(tmp_path / f"{index}.png")
    assert main(["chat", "--model", str(FIXTURE), "--model", "tiny:llava", *paths, "--prompt", "Which image is "
                 "sharper?", "--max-new-tokens", "4", "--json"]) == 0
    sides = json.loads(capsys.readouterr().out)
    assert len(sides) == 2 and not any("error" in side for side in sides)
    assert main(["chat", "--model", "tiny:idefics3", *paths, "--prompt", "Which?", "--max-new-tokens", "4"]) == 1
    assert "one image per question" in capsys.readouterr().out


def test_a_saved_conversation_keeps_both_images(tmp_path, photos):
    from qinstruct.models.session import image_digest

    session = ChatSession.start("tiny:llava", "tiny:llava", False)
    session.image_sha256 = image_digest(photos[:2])
    assert session.image_sha256 != image_digest(photos[0])
    save_session(tmp_path, session, photos[:2])
    _, images = load_session(tmp_path, session.session_id)
    assert [image.tobytes() for image in images] == [photo.convert("RGB").tobytes() for photo in photos[:2]]
