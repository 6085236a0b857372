"""One base, two sides: a LoRA adapter served on the shared base equals the merged model; failures stay on
their side."""
import json
import shutil

import pytest
from peft import LoraConfig, get_peft_model

from qinstruct.models.chat import GenerationOptions, Turn, reply
from qinstruct.models.families import tiny_model
from qinstruct.models.loading import ModelLoadError, load_model
from qinstruct.models.pair import load_pair, stream_pair
from qinstruct.models.types import FailedModel

OPTIONS = GenerationOptions(max_new_tokens=16)
TURNS = [Turn("Describe and evaluate the quality of the image.")]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("pair")
    model, processor = tiny_model("llava", seed=3)
    model.save_pretrained(root / "base")
    processor.save_pretrained(root / "base")
    lora = LoraConfig(r=8, lora_alpha=16, target_modules=r".*language_model.*\.(q_proj|v_proj)",
                      init_lora_weights=False)
    peft_model = get_peft_model(model, lora)
    peft_model.peft_config["default"].base_model_name_or_path = "../base"  # relative to the adapter folder
    peft_model.save_pretrained(root / "lora")
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(root / "merged")
    processor.save_pretrained(root / "merged")
    return root


def collect(pair, image, turns=TURNS):
    out = ["", ""]
    for left, right in stream_pair(pair, (turns, turns), image, OPTIONS):
        out[0] += left
        out[1] += right
    return out


@pytest.mark.parametrize("fastgen", ["never", "auto"])  # generate(), and our static-cache decoder
def test_shared_base_equals_base_and_merged(checkpoints, photos, monkeypatch, fastgen):
    monkeypatch.setenv("QINSTRUCT_FASTGEN", fastgen)
    pair = load_pair(str(checkpoints / "base"), str(checkpoints / "lora"))
    assert pair.shared and pair.left.model is pair.right.model  # one copy of the weights
    left, right = collect(pair, photos[0])
    assert left == reply(load_model(str(checkpoints / "base")), TURNS, photos[0], OPTIONS)
    assert right == reply(load_model(str(checkpoints / "merged")), TURNS, photos[0], OPTIONS)
    assert left != right
    base_rating = load_model(str(checkpoints / "base")).rate(photos[:2])
    merged_rating = load_model(str(checkpoints / "merged")).rate(photos[:2])
    assert [r.p_good for r in pair.left.rate(photos[:2])] == pytest.approx([r.p_good for r in base_rating])
    assert [r.p_good for r in pair.right.rate(photos[:2])] == pytest.approx(
        [r.p_good for r in merged_rating], abs=1e-5)


def test_adapter_alone_loads_its_base(checkpoints, photos):
    tuned = load_model(str(checkpoints / "lora"))
    assert tuned.base_spec.endswith("base")
    assert reply(tuned, TURNS, photos[0], OPTIONS) == reply(load_model(str(checkpoints / "merged")), TURNS,
                                                            photos[0], OPTIONS)


def test_sides_with_different_models_stream_independently(checkpoints, photos):
    pair = load_pair(str(checkpoints / "base"), "tiny:qwen2-vl")
    assert not pair.shared
    left, right = collect(pair, photos[0])
    assert left == reply(load_model(str(checkpoints / "base")), TURNS, photos[0], OPTIONS) and right.strip()


def test_load_failures_are_one_line_and_the_other_side_works(checkpoints, tmp_path, photos):
    broken = tmp_path / "no-processor"
    shutil.copytree(checkpoints / "base", broken)
    for name in ("tokenizer.json", "tokenizer_config.json", "processor_config.json", "chat_template.jinja"):
        (broken / name).unlink(missing_ok=True)
    wrong = tmp_path / "wrong-adapter"
    shutil.copytree(checkpoints / "lora", wrong)
    config = json.loads((wrong / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "tiny:idefics3"
    (wrong / "adapter_config.json").write_text(json.dumps(config))
    cases = [(str(tmp_path / "missing"), "no such model folder"), (str(broken), "cannot load"),
             (str(wrong), "adapter does not fit its base"), ("tiny:gpt5", "unknown tiny family")]
    for spec, message in cases:
        with pytest.raises(ModelLoadError, match=message) as info:
            load_model(spec)
        assert "\n" not in str(info.value)
        pair = load_pair(str(checkpoints / "base"), spec)
        assert isinstance(pair.right, FailedModel) and message in pair.right.label
        left, right = collect(pair, photos[0])
        assert left.strip() and right.startswith("⚠ ") and message in right


def test_closing_the_stream_stops_generation(photos):
    """A page closed mid-answer frees the model at the next token instead of generating to max_new_tokens."""
    import time

    pair = load_pair("tiny:llava", "tiny:qwen2-vl")
    options = GenerationOptions(max_new_tokens=4000)  # minutes of generation if nothing stopped it
    stream = stream_pair(pair, ([Turn("Describe the image.")], [Turn("Describe the image.")]), photos[0], options)
    next(stream)
    started = time.perf_counter()
    stream.close()
    for side in pair.sides:  # each side's lock is free again at once: nothing is still generating
        assert side.lock.acquire(timeout=30)
        side.lock.release()
    assert time.perf_counter() - started < 2


def test_an_mplug_owl2_lora_shares_its_original_layout_base(tmp_path, photos):
    """One copy of an mPLUG-Owl2 release serves both sides: the base, and a LoRA tuned on it (the tuned side equals
    the merged model)."""
    from transformers import AutoModelForImageTextToText

    import qinstruct.models.owl2  # noqa: F401 - registers the architecture with the Auto classes
    from qinstruct.models.families import OWL2_DECODER

    fixture = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "owl2_original"
    shutil.copytree(fixture, tmp_path / "base")
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "base")
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=OWL2_DECODER, init_lora_weights=False)
    peft_model = get_peft_model(model, lora)
    peft_model.peft_config["default"].base_model_name_or_path = "../base"
    peft_model.save_pretrained(tmp_path / "lora")
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(tmp_path / "merged")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "preprocessor_config.json"):
        shutil.copy(fixture / name, tmp_path / "merged" / name)
    pair = load_pair(str(tmp_path / "base"), str(tmp_path / "lora"))
    assert pair.shared and pair.left.model is pair.right.model
    left, right = collect(pair, photos[0])
    assert left == reply(load_model(str(tmp_path / "base")), TURNS, photos[0], OPTIONS)
    assert right == reply(load_model(str(tmp_path / "merged")), TURNS, photos[0], OPTIONS)
    merged_rating = load_model(str(tmp_path / "merged")).rate(photos[:2])
    assert [r.score5 for r in pair.right.rate(photos[:2])] == pytest.approx([r.score5 for r in merged_rating], abs=1e-5)
