"""Supervision, token by token: the loss sees the answers and their end token, nothing else; the prompt the
model learns from is exactly the prompt it gets when chatting."""
from pathlib import Path

import pytest
import torch

from qinstruct.data.records import InstructionItem, Turn
from qinstruct.models.chat import batch_inputs, prompt_text
from qinstruct.models.loading import load_model
from qinstruct.models.types import Turn as ChatTurn
from qinstruct.photos import demo_photo
from qinstruct.train.data import Example
from qinstruct.train.supervision import IGNORE, Collator, Supervisor

ITEM = InstructionItem("1", "x.png", [Turn("human", "<image>\nIs this image blurry?"), Turn("gpt", "Yes, it is."),
                                      Turn("human", "Why?"), Turn("gpt", "The camera moved.")])
END = {"llava": "</s>", "qwen2-vl": "<|im_end|>", "idefics3": "<end_of_utterance>", "mplug-owl2": "</s>"}


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "x.png"
    demo_photo("chelsea", 64).save(path)
    return path


@pytest.mark.parametrize("family", ["llava", "qwen2-vl", "idefics3", "mplug-owl2"])
def test_labels_are_the_answers_and_their_end(family, image):
    loaded = load_model(f"tiny:{family}")
    encoded = Supervisor(loaded, 2048).encode(Example(ITEM, image, "s", "extended", "low"))
    ids, labels = encoded["input_ids"].tolist(), encoded["labels"].tolist()
    tokenizer = loaded.tokenizer
    spans, current = [], []
    for token, label in zip(ids, labels):
        if label == IGNORE:
            if current:
                spans.append(current)
            current = []
        else:
            assert label == token
            current.append(token)
    spans += [current] if current else []
    texts = [tokenizer.decode(span) for span in spans]
    assert [t.strip().removesuffix(END[family]).strip() for t in (s.strip() for s in texts)] == \
        ["Yes, it is.", "The camera moved."]
    assert all(END[family] in text for text in texts)  # the model learns to stop
    # what precedes the first answer is the chat prompt, image tokens included, token for token
    prompt = batch_inputs(loaded, [prompt_text(loaded, [ChatTurn("Is this image blurry?")], True)],
                          [Image(image)])["input_ids"][0].tolist()
    first_answer = labels.index(next(label for label in labels if label != IGNORE))
    assert ids[:first_answer] == prompt


def Image(path):  # noqa: N802 - a tiny helper reading the test image as the chat would
    from qinstruct.images import load_rgb

    return load_rgb(path)


def test_collator_pads_and_keeps_image_features(image):
    loaded = load_model("tiny:qwen2-vl")
    supervisor = Supervisor(loaded, 2048)
    short = InstructionItem("2", "x.png", [Turn("human", "<image>\nRate."), Turn("gpt", "Good.")])
    batch = Collator(loaded.tokenizer.pad_token_id)([supervisor.encode(Example(i, image, "s", "k", "low"))
                                                     for i in (ITEM, short)])
    lengths = batch["attention_mask"].sum(1).tolist()
    assert batch["input_ids"].shape[1] == max(lengths) and lengths[0] != lengths[1]
    padded = batch["attention_mask"] == 0
    assert bool((batch["labels"][padded] == IGNORE).all()) and bool((batch["input_ids"][padded] ==
                                                                     loaded.tokenizer.pad_token_id).all())
    assert batch["image_grid_thw"].shape == (2, 3) and batch["mm_token_type_ids"].shape == batch["input_ids"].shape
    with torch.no_grad():
        loss = loaded.model(**batch).loss
    assert torch.isfinite(loss)
