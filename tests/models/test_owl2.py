"""mPLUG-Owl2 natively, against the original code's own outputs (tests/fixtures/owl2_original, made by
scripts/make_owl2_fixture on transformers 4.32 from the MIT original): the same logits, the same greedy tokens, the
same Q-Align ratings, through the project's loader, processor, chat and rating paths on today's transformers."""
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from qinstruct.cli import main
from qinstruct.models.chat import batch_inputs, prompt_text, reply
from qinstruct.models.loading import load_model
from qinstruct.models.owl2 import MplugOwl2ForConditionalGeneration
from qinstruct.models.types import LoadOptions, Turn

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "owl2_original"
REFERENCE = json.loads((FIXTURE / "reference.json").read_text())


@pytest.fixture(scope="module")
def owl2():
    return load_model(str(FIXTURE))


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [Image.open(FIXTURE / f"image{i}.png").convert("RGB") for i in range(2)]


def test_the_original_checkpoint_loads_natively_without_its_code(owl2):
    assert isinstance(owl2.model, MplugOwl2ForConditionalGeneration) and owl2.family.name == "mplug-owl2"
    config = json.loads((FIXTURE / "config.json").read_text())
    assert config["model_type"] == "mplug_owl2" and config["transformers_version"].startswith("4.32")
    assert "auto_map" not in config  # nothing of the original's code is used: no trust_remote_code


def test_pixels_after_the_original_preprocessing(owl2, images):
    pixels = batch_inputs(owl2, ["USER: <|image|>x ASSISTANT:"], images[:1])["pixel_values"][0]
    assert torch.allclose(pixels, torch.tensor(REFERENCE["pixel_values_0"]), atol=1e-6)


@pytest.mark.parametrize("name,count", [("chat", 1), ("text", 0), ("pair", 2)])
def test_logits_match_the_original_within_1e_4(owl2, images, name, count):
    reference = REFERENCE["prompts"][name]
    inputs = batch_inputs(owl2, [reference["prompt"]], images[:count] if count else None)
    vocab = owl2.model.config.vocab_size
    # the original writes one -200 per image; we write each image's 4 + 1 feature slots
    assert [t for t in inputs["input_ids"][0].tolist() if t < vocab] == [t for t in reference["input_ids"] if t >= 0]
    with torch.inference_mode():
        logits = owl2.model(**inputs).logits[0]
    expected = torch.tensor(reference["logits"])
    assert logits.shape == expected.shape
    assert torch.allclose(logits, expected, atol=1e-4, rtol=0), (logits - expected).abs().max()


def test_greedy_tokens_are_the_originals(owl2, images):
    reference = REFERENCE["greedy"]
    inputs = batch_inputs(owl2, [reference["prompt"]], images[:1])
    with torch.inference_mode():
        out = owl2.model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert out[0, inputs["input_ids"].shape[1]:].tolist() == reference["tokens"]
    # and the chat path (template, streaming) produces the same answer
    assert prompt_text(owl2, [Turn("Describe the image.")], True) == reference["prompt"]
    from qinstruct.models.types import GenerationOptions

    answer = reply(owl2, [Turn("Describe the image.")], images[0], GenerationOptions(max_new_tokens=12))
    assert answer == owl2.tokenizer.decode(reference["tokens"], skip_special_tokens=True)


@pytest.mark.parametrize("prompt,key", [("auto", "q-align"), ("q-align", "q-align"), ("one-align", "one-align"),
                                        ("q-bench", "q-bench")])
def test_ratings_match_the_original_scorer_within_1e_5(images, prompt, key):
    model = load_model(str(FIXTURE), LoadOptions(rating_prompt=prompt))
    reference = REFERENCE[key]
    batched = model.rate(images, batch_size=2)
    alone = [model.rate([image], batch_size=1)[0] for image in images]
    for index, (rating, single) in enumerate(zip(batched, alone)):
        assert rating.prompt == key
        levels = [rating.level_probs[level] for level in ("excellent", "good", "fair", "poor", "bad")]
        assert levels == pytest.approx(reference["levels"][index], abs=1e-5)
        assert rating.score == pytest.approx(reference["score"][index], abs=1e-5)
        assert rating.score5 == pytest.approx(reference["score5"][index], abs=1e-5)
        assert rating.p_good == pytest.approx(reference["p_good"][index], abs=1e-5)
        assert single.score5 == pytest.approx(rating.score5, abs=1e-5)  # batch-invariant


def test_the_q_align_prompt_is_refused_for_other_families(photos):
    model = load_model("tiny:llava", LoadOptions(rating_prompt="q-align"))
    with pytest.raises(Exception, match="q-align prompt is written for mPLUG-Owl2"):
        model.rate(photos[:1])


def test_a_left_padded_batch_gives_each_row_its_unpadded_logits(owl2, images):
    texts = [prompt_text(owl2, [Turn(q)], True) for q in ("Describe the image.", "Is the photo sharp, clear?")]
    batch = batch_inputs(owl2, texts, images)
    assert not bool(batch["attention_mask"].all())  # one row is padded
    with torch.inference_mode():
        both = owl2.model(**batch).logits[:, -1]
        alone = [owl2.model(**batch_inputs(owl2, [t], [i])).logits[0, -1] for t, i in zip(texts, images)]
    assert torch.allclose(both[0], alone[0], atol=1e-5) and torch.allclose(both[1], alone[1], atol=1e-5)


def test_trust_remote_code_is_not_needed_and_not_used(tmp_path):
    import shutil

    folder = tmp_path / "owl2"
    shutil.copytree(FIXTURE, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_mplug_owl2.MPLUGOwl2LlamaForCausalLM"}
    (folder / "config.json").write_text(json.dumps(config))  # as released, pointing at code that is not here
    model = load_model(str(folder), LoadOptions(trust_remote_code=True))
    assert isinstance(model.model, MplugOwl2ForConditionalGeneration)


def test_tiny_random_owl2_saves_and_reloads(tmp_path, photos):
    model = load_model("tiny:mplug-owl2")
    model.model.save_pretrained(tmp_path / "m")
    model.processor.save_pretrained(tmp_path / "m")
    again = load_model(str(tmp_path / "m"))
    inputs = batch_inputs(model, [prompt_text(model, [Turn("Is it sharp?")], True)], photos[:1])
    with torch.inference_mode():
        assert torch.equal(model.model(**inputs).logits, again.model(**batch_inputs(again, [
            prompt_text(again, [Turn("Is it sharp?")], True)], photos[:1])).logits)


def test_rate_and_chat_commands_on_the_original_checkpoint(capsys):
    images = [str(FIXTURE / f"image{i}.png") for i in range(2)]
    assert main(["rate", "--model", str(FIXTURE), *images, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["prompt"] for row in rows] == ["q-align", "q-align"]
    assert [row["score5"] for row in rows] == pytest.approx(
        REFERENCE["q-align"]["score5"], abs=1e-5)
    assert main(["chat", "--model", str(FIXTURE), "--model", "tiny:llava", "--image", images[0], "--prompt",
                 "Describe the image.", "--max-new-tokens", "12", "--rate"]) == 0
    out = capsys.readouterr().out
    assert out.count("rating: P(good)=") == 2 and "[Q-Align prompt]" in out


def test_a_llava_style_lora_release_loads_its_non_lora_trainables_on_its_base(tmp_path):
    """DeQA-Score's LoRA variant: adapter + non_lora_trainables.bin (the abstractor it trained in full, named as its
    PeftModel saw it) on an mPLUG-Owl2 base."""
    import shutil

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    from qinstruct.models.families import OWL2_DECODER
    from qinstruct.models.specs import AdapterSpec, parse_spec

    shutil.copytree(FIXTURE, tmp_path / "base")
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "base")
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=OWL2_DECODER))
    peft_model.peft_config["default"].base_model_name_or_path = "../base"
    peft_model.save_pretrained(tmp_path / "lora")
    trained = {f"base_model.model.{key}": value + 1.0 for key, value in model.state_dict().items()
               if key.startswith("model.visual_abstractor.visual_fc.")}
    torch.save(trained, tmp_path / "lora" / "non_lora_trainables.bin")
    spec = parse_spec(str(tmp_path / "lora"))
    assert isinstance(spec, AdapterSpec) and not spec.mixable  # its base is changed: never shared with a side
    tuned = load_model(str(tmp_path / "lora"))
    fc = tuned.model.get_base_model().model.visual_abstractor.visual_fc.weight
    assert torch.equal(fc, trained["base_model.model.model.visual_abstractor.visual_fc.weight"])
    torch.save({"base_model.model.model.nowhere.weight": torch.zeros(1)}, tmp_path / "lora" / "non_lora_trainables.bin")
    with pytest.raises(Exception, match="non_lora_trainables.bin has weights its base"):
        load_model(str(tmp_path / "lora"))


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(images):
    model = load_model(str(FIXTURE))
    inputs = batch_inputs(model, [prompt_text(model, [Turn("Describe the image.")], True) + " sharp"], images[:1])
    labels = inputs["input_ids"].masked_fill(inputs["input_ids"] >= model.model.config.vocab_size, -100)
    results = []
    for checkpointing in (False, True):
        model.model.train()
        model.model.zero_grad()
        if checkpointing:
            model.model.gradient_checkpointing_enable()  # transformers passes its own options along: taken
            assert model.model.model.gradient_checkpointing and model.model.model.vision_model.gradient_checkpointing
        loss = model.model(**inputs, labels=labels, use_cache=False).loss
        loss.backward()
        results.append((float(loss), model.model.lm_head.weight.grad.clone(),
                        model.model.model.vision_model.embeddings.patch_embed.weight.grad.clone()))
    (loss_a, head_a, patch_a), (loss_b, head_b, patch_b) = results
    assert loss_a == pytest.approx(loss_b, abs=1e-6)
    assert torch.allclose(head_a, head_b, atol=1e-6) and torch.allclose(patch_a, patch_b, atol=1e-6)
