"""Real shapes without weights: every name and shape a released checkpoint holds, against the model the studio
builds for it, on the meta device (no memory, no download).

* LLaVA-v1.5-7B / 13B in the original LLaVA layout (as `teowu/llava_v1.5_7b_qinstruct_preview_v0.1` ships it:
  a LLaMA causal LM with `model.mm_projector.{0,2}` and the CLIP ViT-L/14-336 tower under
  `model.vision_tower.vision_tower.`, plus the buffers transformers 4.31 saved) through the original-LLaVA
  converter (models/llava_original.py).
* mPLUG-Owl2-7B at 448 px: the names and shapes the original code builds (recorded by scripts/make_owl2_fixture
  into tests/fixtures/owl2_original/owl2_7b_published_keys.json), against the native model, which must hold
  exactly those.
`scripts/real_shapes.py` prints the table; tests/models/test_real_shapes.py checks it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

LLAVA_SIZES = {
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32),
    "13b": dict(hidden_size=5120, intermediate_size=13824, num_hidden_layers=40, num_attention_heads=40),
}
CLIP_L_336 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                  image_size=336, patch_size=14, projection_dim=768)
LLAVA_CONFIG = dict(vocab_size=32000, max_position_embeddings=4096, rms_norm_eps=1e-5, mm_hidden_size=1024,
                    mm_projector_type="mlp2x_gelu", mm_vision_select_layer=-2, mm_vision_select_feature="patch",
                    mm_vision_tower="openai/clip-vit-large-patch14-336")


@dataclass
class ShapeReport:
    name: str
    keys: int  # names in the released checkpoint
    parameters: int  # parameters they hold (buffers older transformers saved not counted)
    problems: list[str]  # unmapped names, wrong shapes, parameters left empty

    def line(self) -> str:
        verdict = "every key mapped, shapes match" if not self.problems else f"{len(self.problems)} problems"
        return f"{self.name}: {self.keys} keys, {self.parameters:,} parameters: {verdict}"


def _shapes(model) -> dict[str, tuple]:
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def original_llava_layout(size: str) -> tuple[dict, dict[str, tuple]]:
    """(config.json, name -> shape) of an original-layout LLaVA-v1.5 checkpoint of this size."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM

    config = {**LLAVA_CONFIG, **LLAVA_SIZES[size]}
    text = LlamaConfig(**{k: v for k, v in config.items() if not k.startswith("mm_")})
    with torch.device("meta"):
        shapes = _shapes(LlamaForCausalLM(text))
        tower = _shapes(CLIPVisionModel(CLIPVisionConfig(**CLIP_L_336)))
    head_dim = text.hidden_size // text.num_attention_heads
    for layer in range(text.num_hidden_layers):  # transformers 4.31 saved the rotary frequencies
        shapes[f"model.layers.{layer}.self_attn.rotary_emb.inv_freq"] = (head_dim // 2,)
    width, vision = text.hidden_size, CLIP_L_336["hidden_size"]
    shapes.update({"model.mm_projector.0.weight": (width, vision), "model.mm_projector.0.bias": (width,),
                   "model.mm_projector.2.weight": (width, width), "model.mm_projector.2.bias": (width,)})
    # CLIP's names as transformers 4.31 wrote them (under vision_model.; 5.x flattened them)
    shapes.update({f"model.vision_tower.vision_tower.vision_model.{key.removeprefix('vision_model.')}": shape
                   for key, shape in tower.items()})
    patches = (CLIP_L_336["image_size"] // CLIP_L_336["patch_size"]) ** 2 + 1
    shapes["model.vision_tower.vision_tower.vision_model.embeddings.position_ids"] = (1, patches)
    return config, shapes


def llava_check(size: str) -> ShapeReport:
    import torch
    from transformers import CLIPVisionConfig, LlavaForConditionalGeneration

    from .llava_original import DERIVED, layout_problems, llava_config_for

    config, published = original_llava_layout(size)
    image_token = config["vocab_size"]  # the converter appends <image> (then <pad>) to the vocabulary
    llava_config = llava_config_for(config, CLIPVisionConfig(**CLIP_L_336), image_token)
    llava_config.text_config.vocab_size = config["vocab_size"] + 2
    with torch.device("meta"):
        target = _shapes(LlavaForConditionalGeneration(llava_config))
    parameters = sum(math.prod(shape) for key, shape in published.items() if not DERIVED.search(key))
    return ShapeReport(f"LLaVA-v1.5-{size.upper()} (original layout)", len(published), parameters,
                       layout_problems(published, target))


def owl2_check(published: dict) -> ShapeReport:
    """`published`: {"config": the original's config, "shapes": {name: shape}} (owl2_7b_published_keys.json)."""
    import torch

    from .owl2 import MplugOwl2Config, MplugOwl2ForConditionalGeneration

    config = MplugOwl2Config(**{k: v for k, v in published["config"].items() if k != "model_type"})
    with torch.device("meta"):
        target = _shapes(MplugOwl2ForConditionalGeneration(config))
    shapes = {key: tuple(shape) for key, shape in published["shapes"].items()}
    problems = [f"{key}: no such parameter in the native model" for key in sorted(set(shapes) - set(target))]
    problems += [f"{key}: shape {shapes[key]}, native {target[key]}" for key in sorted(set(shapes) & set(target))
                 if shapes[key] != target[key]]
    problems += [f"{key}: not in the checkpoint" for key in sorted(set(target) - set(shapes))]
    parameters = sum(math.prod(shape) for key, shape in shapes.items() if not key.endswith("_pos_embed"))
    return ShapeReport("mPLUG-Owl2-7B at 448 px (original layout)", len(shapes), parameters, problems)
