"""An original-LLaVA-layout checkpoint (mm_projector, mm_* config fields, separate CLIP tower) written by the
test converts to the llava-hf layout and gives the same logits as the model it was written from."""
import json

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import CLIPVisionModel

from qinstruct.models.families import tiny_model
from qinstruct.models.loading import load_model
from qinstruct.models.rating import next_token_logits
from qinstruct.models.specs import OriginalLlavaSpec, parse_spec

INVERSE = (("model.multi_modal_projector.linear_1.", "model.mm_projector.0."),
           ("model.multi_modal_projector.linear_2.", "model.mm_projector.2."),
           ("model.language_model.", "model."), ("lm_head.", "lm_head."))


def write_original(model, processor, root):
    tower = root / "clip-tower"
    clip = CLIPVisionModel(model.config.vision_config)
    clip.load_state_dict(model.model.vision_tower.state_dict())
    clip.save_pretrained(tower)
    processor.image_processor.save_pretrained(tower)
    original = root / "llava-v1.5-original"
    state = {}
    for key, value in model.state_dict().items():
        for new, old in INVERSE:
            if key.startswith(new):
                state[old + key[len(new):]] = value.contiguous()
    original.mkdir()
    save_file(state, str(original / "model.safetensors"))
    config = model.config.text_config.to_dict()
    config.update({"architectures": ["LlavaLlamaForCausalLM"], "model_type": "llava_llama",
                   "mm_vision_tower": str(tower), "mm_hidden_size": model.config.vision_config.hidden_size,
                   "mm_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2,
                   "mm_vision_select_feature": "patch", "image_aspect_ratio": "pad", "mm_use_im_start_end": False})
    (original / "config.json").write_text(json.dumps(config))
    processor.tokenizer.save_pretrained(original)
    return original


def test_converts_and_matches(tmp_path, photos, monkeypatch):
    monkeypatch.setenv("QINSTRUCT_CACHE", str(tmp_path / "cache"))
    model, processor = tiny_model("llava", seed=5)
    original = write_original(model, processor, tmp_path)
    assert isinstance(parse_spec(str(original)), OriginalLlavaSpec)
    converted = load_model(str(original))
    reference = load_model("tiny:llava@5")
    # the converted template adds LLaVA-v1's system prompt: compare on the same prompt text
    from qinstruct.models.chat import Turn, batch_inputs, prompt_text

    text = prompt_text(converted, [Turn("Rate the quality of the image.")], True, "The quality of the image is")
    assert text.startswith("A chat between a curious human") and "USER: <image>\n" in text
    with torch.inference_mode():
        a = reference.model(**batch_inputs(reference, [text], photos[:1])).logits
        b = converted.model(**batch_inputs(converted, [text], photos[:1])).logits
    assert torch.allclose(a, b[..., : a.shape[-1]], atol=1e-5)
    cache = next((tmp_path / "cache" / "converted").iterdir())
    stamp = (cache / "model.safetensors").stat().st_mtime_ns
    load_model(str(original))  # second load: from the cache, no new conversion
    assert (cache / "model.safetensors").stat().st_mtime_ns == stamp
    assert np.isfinite(next_token_logits(converted, photos[:1])).all()
