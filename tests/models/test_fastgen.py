"""GraphDecoder (static cache, CUDA graph on GPUs) against generate(), token for token, on the CPU."""
import pytest
import torch

from qinstruct.models.chat import Turn, batch_inputs, prompt_text
from qinstruct.models.fastgen import GraphDecoder, supports
from qinstruct.models.loading import load_model


@pytest.mark.parametrize("family", ["llava", "idefics3"])
def test_same_tokens_as_generate_with_left_padding(family, photos):
    model = load_model(f"tiny:{family}")
    texts = [prompt_text(model, [Turn("Describe the image.")], True),
             prompt_text(model, [Turn("Hi", "Hello, how can I help?"), Turn("Is it clear?")], True)]
    inputs = batch_inputs(model, texts, photos[:2])
    assert (inputs["attention_mask"] == 0).any()  # the shorter prompt is left-padded
    with torch.inference_mode():
        expected = model.model.generate(**inputs, max_new_tokens=24, do_sample=False, eos_token_id=None,
                                        pad_token_id=model.tokenizer.pad_token_id)[:, inputs["input_ids"].shape[1]:]
    decoder = GraphDecoder(model.model, batch=2, max_len=256)
    assert decoder.graph is None  # no CUDA here: the same loop runs eagerly
    assert torch.equal(decoder.generate(inputs, 24), expected)
    assert torch.equal(decoder.generate(inputs, 24), expected)  # reusable: the cache is reset per call


def test_eos_ends_rows(photos):
    model = load_model("tiny:llava")
    inputs = batch_inputs(model, [prompt_text(model, [Turn("Describe.")], True)], photos[:1])
    free = GraphDecoder(model.model, batch=1, max_len=128).generate(inputs, 20)
    eos = int(free[0, 3])  # pretend the 4th generated token is the end of sequence
    stopped = GraphDecoder(model.model, batch=1, max_len=128).generate(inputs, 20, eos_token_id=eos, sync_every=1)
    assert stopped.shape[1] <= 5 and int(stopped[0, 3]) == eos


def test_unsupported_families_are_refused():
    qwen = load_model("tiny:qwen2-vl")
    assert not supports(qwen.model)
    with pytest.raises(ValueError, match="does not support qwen2_vl"):
        GraphDecoder(qwen.model, batch=1)
