"""Tiny random models of each family, built in-process and offline: chat, rate, save, reload."""
import numpy as np
import pytest
import torch

from qinstruct.models.chat import GenerationOptions, Turn, reply
from qinstruct.models.loading import load_model
from qinstruct.models.rating import LEVELS, first_token_id, next_token_logits, rate

FAMILIES = ["llava", "qwen2-vl", "idefics3"]


@pytest.mark.parametrize("family", FAMILIES)
def test_chat_rate_save_reload(family, photos, tmp_path):
    model = load_model(f"tiny:{family}")
    assert not model.trained and "untrained" in model.label
    options = GenerationOptions(max_new_tokens=12)
    pieces = list(model.stream([Turn("Describe and evaluate the quality of the image.")], photos[0], options))
    assert len(pieces) >= 2 and "".join(pieces).strip()  # streamed in several pieces
    second = reply(model, [Turn("Is this image clear?", "".join(pieces)), Turn("Why?")], photos[0], options)
    assert second.strip()
    ratings = rate(model, photos[:2])
    assert all(0 < r.p_good < 1 and 1 <= r.score5 <= 5 for r in ratings)
    assert sum(ratings[0].level_probs.values()) == pytest.approx(1)
    model.model.save_pretrained(tmp_path)
    model.processor.save_pretrained(tmp_path)
    reloaded = load_model(str(tmp_path))
    assert reloaded.family.name == family
    before = next_token_logits(model, photos[:1])
    after = next_token_logits(reloaded, photos[:1])
    assert np.array_equal(before, after)
    assert reply(reloaded, [Turn("Is this image clear?")], photos[1], options) == reply(
        model, [Turn("Is this image clear?")], photos[1], options)


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_rating_equals_unbatched(family, photos):
    model = load_model(f"tiny:{family}")
    one_by_one = [rate(model, [image])[0] for image in photos]
    batched = rate(model, photos, batch_size=4)
    for a, b in zip(one_by_one, batched):
        assert a.p_good == pytest.approx(b.p_good, abs=1e-5)
        assert a.score == pytest.approx(b.score, abs=1e-5)


def test_rating_forward_drops_only_an_all_ones_mask(photos):
    from qinstruct.models.chat import batch_inputs, prompt_text
    from qinstruct.models.rating import rating_forward

    model = load_model("tiny:llava")
    inputs = batch_inputs(model, [prompt_text(model, [Turn("Rate the quality of the image.")], True)] * 2,
                          photos[:2])
    assert bool(inputs["attention_mask"].all())  # LLaVA prompts have one length: no padding, no mask needed
    with torch.inference_mode():
        masked = model.model(**inputs, use_cache=False).logits[:, -1]
        torch.testing.assert_close(rating_forward(model.model, inputs), masked, rtol=1e-4, atol=1e-5)
        padded = {k: v[:1] for k, v in inputs.items()}
        padded["input_ids"] = torch.cat([torch.full_like(padded["input_ids"][:, :3], model.tokenizer.pad_token_id),
                                         padded["input_ids"]], dim=1)
        padded["attention_mask"] = torch.cat([torch.zeros_like(padded["attention_mask"][:, :3]),
                                              padded["attention_mask"]], dim=1)
        torch.testing.assert_close(rating_forward(model.model, padded), masked[:1], rtol=1e-4, atol=1e-5)


def test_rating_reads_the_right_tokens(photos):
    model = load_model("tiny:llava")
    tokenizer = model.tokenizer
    good, poor = first_token_id(tokenizer, "good"), first_token_id(tokenizer, "poor")
    assert tokenizer.convert_ids_to_tokens([good, poor]) == ["Ġgood", "Ġpoor"]  # leading space included
    logits = next_token_logits(model, photos[:1])[0]
    expected = torch.softmax(torch.tensor([logits[good], logits[poor]], dtype=torch.float64), 0)[0].item()
    assert rate(model, photos[:1])[0].p_good == pytest.approx(expected, abs=1e-9)
    assert len({first_token_id(tokenizer, level) for level in LEVELS}) == 5


def test_prompt_uses_the_chat_template_and_pads_square(photos):
    from qinstruct.models.chat import prepare_image, prompt_text

    model = load_model("tiny:llava")
    text = prompt_text(model, [Turn("Rate the quality of the image.")], True, "The quality of the image is")
    assert text == "USER: <image>\nRate the quality of the image. ASSISTANT: The quality of the image is"
    wide = photos[1]  # coffee, 96 x 64
    assert wide.size[0] != wide.size[1] and prepare_image(model, wide).size == (96, 96)
    qwen = load_model("tiny:qwen2-vl")
    assert prepare_image(qwen, wide).size == wide.size  # no padding outside the LLaVA family
