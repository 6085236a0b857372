"""What differs between model families: chat templates for the tiny models we build, image preparation, and
how a family's processor wants its images.  Tiny random models of each family are built here, in-process and
offline (tests and benchmarks); real checkpoints bring their own templates.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

LLAVA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %} {% elif message['role'] == 'assistant' %}ASSISTANT: {% for item in message['content'] %}"
    "{{ item['text'] }}{% endfor %}</s>{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
QWEN2_VL_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% elif item['type'] == 'text' %}"
    "{{ item['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
IDEFICS3_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for item in message['content'] %}{% if item['type'] == 'text' %}{{ item['text'] }}"
    "{% elif item['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
QWEN2_VL_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>", "<|im_start|>",
                   "<|im_end|>")
IDEFICS3_TOKENS = ("<fake_token_around_image>", "<global-img>", "<end_of_utterance>", "<|im_start|>") + tuple(
    f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7))


def pad_to_square(image: Image.Image, fill: tuple[int, int, int]) -> Image.Image:
    """LLaVA-1.5's expand2square: centre the image on a square canvas of the processor's mean colour."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


@dataclass(frozen=True)
class Family:
    name: str
    model_types: tuple[str, ...]  # config.model_type values that belong to the family
    pad_square: bool  # LLaVA-1.5 and mPLUG-Owl2 pad images to square before the processor
    nested_images: bool  # the processor wants one list of images per sample
    build_tiny: Callable[[int], tuple]  # seed -> (model, processor)
    rating_prompt: str = "q-bench"  # how `rate` asks by default (models/rating.py PROMPTS)
    max_images: int = 1  # images one question may show (several: one placeholder per image in the prompt)
    # LLaMA-style tokenizers: a level word's id is its first token encoded alone after BOS ("▁good", Q-Align's
    # rule), not " good" encoded bare
    level_ids_alone: bool = False
    decoder_lora: str | None = None  # the decoder's projections, where the family names them its own way


def _text_config(tokenizer, hidden: int = 64) -> dict:
    return dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=1024,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id)


def _tiny_llava(seed: int):
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip import CLIPImageProcessorPil

    from .tokenizer import build_tokenizer

    tokenizer = build_tokenizer(chat_template=LLAVA_TEMPLATE)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                               vision_feature_select_strategy="default", chat_template=LLAVA_TEMPLATE,
                               num_additional_image_tokens=1)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                       image_size=32, patch_size=8, projection_dim=32),
        text_config=LlamaConfig(**_text_config(tokenizer)), image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default", vision_feature_layer=-2)
    torch.manual_seed(seed)
    return LlavaForConditionalGeneration(config).eval(), processor


def _tiny_qwen2_vl(seed: int):
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

    from .processors import ImageOnlyQwen2VLProcessor
    from .tokenizer import build_tokenizer

    tokenizer = build_tokenizer(extra_special=QWEN2_VL_TOKENS, chat_template=QWEN2_VL_TEMPLATE)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN2_VL_TOKENS}
    image_processor = Qwen2VLImageProcessorPil(min_pixels=32 * 32, max_pixels=64 * 64, patch_size=4, merge_size=2,
                                               temporal_patch_size=2)
    processor = ImageOnlyQwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                          chat_template=QWEN2_VL_TEMPLATE)
    text = _text_config(tokenizer)
    text["rope_scaling"] = {"type": "mrope", "mrope_section": [2, 3, 3]}
    config = Qwen2VLConfig(
        vision_config=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=4,
                           spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
        text_config=text, image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    torch.manual_seed(seed)
    return Qwen2VLForConditionalGeneration(config).eval(), processor


def _tiny_idefics3(seed: int):
    import torch
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3 import Idefics3ImageProcessorPil

    from .tokenizer import build_tokenizer

    tokenizer = build_tokenizer(extra_special=IDEFICS3_TOKENS, chat_template=IDEFICS3_TEMPLATE)
    image_processor = Idefics3ImageProcessorPil(size={"longest_edge": 64}, max_image_size={"longest_edge": 32},
                                                do_image_splitting=False)
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4,
                                  chat_template=IDEFICS3_TEMPLATE)
    text = _text_config(tokenizer)
    text["model_type"] = "llama"
    config = Idefics3Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        text_config=text, image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=2,
        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    return Idefics3ForConditionalGeneration(config).eval(), processor


def _tiny_owl2(seed: int):
    import torch

    from .owl2 import MplugOwl2Config, MplugOwl2ForConditionalGeneration, MplugOwl2Processor
    from .owl2.processor import image_processor_for
    from .tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    visual = {"visual_model": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                   image_size=56, patch_size=14),
              "visual_abstractor": dict(num_learnable_queries=4, hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, intermediate_size=48, encoder_hidden_size=32,
                                        grid_size=4)}
    text = _text_config(tokenizer)
    text["num_key_value_heads"] = text["num_attention_heads"]  # multi-head, as the releases
    config = MplugOwl2Config(visual_config=visual, **text)
    torch.manual_seed(seed)
    processor = MplugOwl2Processor(image_processor_for(None, 56), tokenizer, config.image_tokens,
                                   config.image_placeholder_id)
    return MplugOwl2ForConditionalGeneration(config).eval(), processor


# mPLUG-Owl2 keeps its decoder at the top level (model.layers.N), and its K/V projections are one per modality
OWL2_DECODER = (r"(?:.*\.)?model\.layers\.\d+\."
                r"(self_attn\.(q_proj|o_proj|(k_proj|v_proj)\.multiway\.\d)|mlp\.(gate_proj|up_proj|down_proj))")


FAMILIES: dict[str, Family] = {
    "llava": Family("llava", ("llava",), pad_square=True, nested_images=False, build_tiny=_tiny_llava,
                    max_images=4),
    "qwen2-vl": Family("qwen2-vl", ("qwen2_vl", "qwen2_5_vl"), pad_square=False, nested_images=False,
                       build_tiny=_tiny_qwen2_vl, max_images=4),
    "idefics3": Family("idefics3", ("idefics3", "smolvlm"), pad_square=False, nested_images=True,
                       build_tiny=_tiny_idefics3),
    # Q-Instruct on mPLUG-Owl2, One-Align / Q-Align, Co-Instruct, DeQA-Score: rated as Q-Align rates
    "mplug-owl2": Family("mplug-owl2", ("mplug_owl2",), pad_square=True, nested_images=False,
                         build_tiny=_tiny_owl2, rating_prompt="q-align", max_images=4, level_ids_alone=True,
                         decoder_lora=OWL2_DECODER),
}
GENERIC = Family("generic", (), pad_square=False, nested_images=False, build_tiny=lambda seed: None)


def family_of(model_type: str) -> Family:
    return next((f for f in FAMILIES.values() if model_type in f.model_types), GENERIC)


def tiny_model(family: str, seed: int = 0):
    """A fresh tiny random model of the family and its processor (the tokenizer is trained once per process)."""
    if family not in FAMILIES:
        raise KeyError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[family].build_tiny(seed)


# Where each part of a vision-language model lives, by module name, across the families we know (LLaVA,
# Qwen2-VL, Idefics3/SmolVLM, mPLUG-Owl2 with its abstractor as the projector): the projector first, as
# Qwen2-VL's sits inside its vision module.
PROJECTOR_MODULES = ("multi_modal_projector", "visual.merger", "connector", "mm_projector", "visual_abstractor")
VISION_MODULES = ("vision_tower", "visual", "vision_model")
LLM_MODULES = ("language_model", "text_model")


def part_of(parameter_name: str) -> str:
    """vision | projector | llm (the language model, its embeddings and head: everything else)."""
    if any(f".{name}." in f".{parameter_name}" for name in PROJECTOR_MODULES):
        return "projector"
    if any(f".{name}." in f".{parameter_name}" for name in VISION_MODULES):
        return "vision"
    return "llm"


def lora_pattern(vision: bool, family: Family | None = None) -> str:
    """The modules that get adapters: the language model's projections, and the vision tower's if asked (a
    bare q_proj would also match the vision tower)."""
    llm = family.decoder_lora if family is not None and family.decoder_lora else \
        rf".*\.({'|'.join(LLM_MODULES)})\..*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
    if not vision:
        return llm
    tower = (rf".*\.({'|'.join(VISION_MODULES)})\.(?!merger).*\."
             r"(q_proj|k_proj|v_proj|out_proj|qkv|fc1|fc2|query_key_value|dense)")
    return f"(?:{llm})|(?:{tower})"


TINY_BASE, TINY_LORA = "tiny-llava", "tiny-llava-lora"


def save_tiny_pair(models_dir: Path) -> tuple[str, str]:
    """A tiny random LLaVA and a random LoRA adapter on it, saved in models_dir (if missing), for tests and
    benchmarks of the folder-loading and one-base-two-sides (shared PeftModel) paths; returns their specs as
    the studio writes them (models/NAME)."""
    base, lora = models_dir / TINY_BASE, models_dir / TINY_LORA
    if not (base / "qinstruct.json").is_file():
        model, processor = tiny_model("llava", seed=0)
        model.save_pretrained(base)
        processor.save_pretrained(base)
        (base / "qinstruct.json").write_text(json.dumps({"label": "tiny llava (untrained)", "trained": False}))
    if not (lora / "qinstruct.json").is_file():
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForImageTextToText

        torch.manual_seed(1)
        model = AutoModelForImageTextToText.from_pretrained(base)
        config = LoraConfig(r=8, lora_alpha=16, target_modules=r".*language_model.*\.(q_proj|v_proj)",
                            init_lora_weights=False)  # random A and B: the two sides answer differently
        peft_model = get_peft_model(model, config)
        peft_model.peft_config["default"].base_model_name_or_path = f"../{TINY_BASE}"
        peft_model.save_pretrained(lora)
        (lora / "qinstruct.json").write_text(json.dumps({"label": "tiny llava + random LoRA", "trained": False}))
    return f"models/{TINY_BASE}", f"models/{TINY_LORA}"
