"""Original-LLaVA checkpoints (as Q-Instruct released its LLaVA-1.5 weights) -> the llava-hf layout.

An original checkpoint is a Llama causal LM whose config carries mm_* fields (mm_vision_tower, mm_hidden_size,
mm_projector_type "mlp2x_gelu", mm_vision_select_layer, mm_vision_select_feature) and whose weights hold
model.mm_projector.{0,2}.*; the CLIP tower is named by mm_vision_tower (a local folder or a hub id that must
already be in the local cache: nothing is downloaded) unless its weights are in the checkpoint.  We rename the
keys, add the <image> token (its embedding row initialised to the mean, as the llava-hf conversion does), build
a LlavaProcessor with the LLaVA-v1 chat template (system prompt included, as the paper's evaluation used) and
save the result once under a cache folder keyed by the checkpoint's path and file times.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from .types import ModelLoadError

SYSTEM_PROMPT = ("A chat between a curious human and an artificial intelligence assistant. The assistant gives "
                 "helpful, detailed, and polite answers to the human's questions.")
LLAVA_V1_TEMPLATE = (
    '{{ "' + SYSTEM_PROMPT + ' " }}'
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: "
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}"
    "{{ item['text'] }}{% endif %}{% endfor %} {% elif message['role'] == 'assistant' %}ASSISTANT: "
    "{% for item in message['content'] %}{{ item['text'] }}{% endfor %}</s>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
WEIGHT_PATTERNS = ("*.safetensors", "*.bin")
RENAMES = (  # original prefix -> llava-hf prefix (transformers 5)
    ("model.mm_projector.0.", "model.multi_modal_projector.linear_1."),
    ("model.mm_projector.2.", "model.multi_modal_projector.linear_2."),
    ("model.embed_tokens.", "model.language_model.embed_tokens."),
    ("model.layers.", "model.language_model.layers."),
    ("model.norm.", "model.language_model.norm."),
    ("lm_head.", "lm_head."),
)


def default_cache_dir() -> Path:
    return Path(os.environ.get("QINSTRUCT_CACHE") or Path.home() / ".cache" / "qinstruct") / "converted"


def _weight_files(src: Path) -> list[Path]:
    files = sorted(p for pattern in WEIGHT_PATTERNS for p in src.glob(pattern) if "training_args" not in p.name)
    if not files:
        raise ModelLoadError(f"{src}: no *.safetensors or *.bin weight files")
    return files


def cache_key(src: Path) -> str:
    digest = hashlib.sha256(str(src.resolve()).encode())
    for path in [src / "config.json", *_weight_files(src)]:
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def converted_path(src: str, cache_dir: str | None = None) -> str:
    """The llava-hf folder for an original checkpoint, converting it on first use."""
    source = Path(src).expanduser()
    out = Path(cache_dir) if cache_dir else default_cache_dir()
    out = out / f"{source.name}-{cache_key(source)}"
    if not (out / ".complete").is_file():
        convert(source, out)
    return str(out)


def _load_state(files: list[Path]) -> dict:
    import torch
    from safetensors.torch import load_file

    state: dict = {}
    for path in files:
        state.update(load_file(str(path)) if path.suffix == ".safetensors"
                     else torch.load(path, map_location="cpu", weights_only=True))
    return state


def rename_key(key: str, target_keys: set[str]) -> str | None:
    for old, new in RENAMES:
        if key.startswith(old):
            return new + key[len(old):]
    if "vision_model." in key:  # a tuned tower saved inside the checkpoint
        suffix = key.split("vision_model.", 1)[1]
        for candidate in (f"model.vision_tower.{suffix}", f"model.vision_tower.vision_model.{suffix}"):
            if candidate in target_keys:
                return candidate
    return None


# Buffers older transformers saved with the weights and today's recompute (LLaMA's rotary frequencies, CLIP's
# position ids): dropped, never "unmapped"
DERIVED = re.compile(r"rotary_emb\.inv_freq$|embeddings\.position_ids$")
VOCAB_ROWS = ("model.language_model.embed_tokens.weight", "lm_head.weight")  # grow by the added tokens


def map_keys(keys, target_keys: set[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """(published key -> llava-hf key, derived buffers dropped, keys with no place in the llava-hf layout)."""
    mapping, derived, unmapped = {}, [], []
    for key in keys:
        new = rename_key(key, target_keys)
        if new in target_keys:
            mapping[key] = new
        else:
            (derived if DERIVED.search(key) else unmapped).append(key)
    return mapping, derived, unmapped


def layout_problems(published: dict[str, tuple], target: dict[str, tuple]) -> list[str]:
    """Every way a checkpoint's names and shapes fail to fill the llava-hf model: keys with no place, shapes that
    differ (the vocabulary rows may grow: the converter adds <image> and <pad>), parameters left empty."""
    mapping, _, unmapped = map_keys(published, set(target))
    problems = [f"{key}: no place in the llava-hf layout" for key in unmapped]
    for old, new in mapping.items():
        have, want = tuple(published[old]), tuple(target[new])
        if have != want and not (new in VOCAB_ROWS and have[1:] == want[1:] and have[0] <= want[0]):
            problems.append(f"{old}: shape {have}, but {new} is {want}")
    problems += [f"{key}: not in the checkpoint" for key in sorted(set(target) - set(mapping.values()))]
    return problems


def llava_config_for(config: dict, vision_config, image_token_id: int):
    """The llava-hf configuration of an original checkpoint's config.json and its CLIP tower's configuration."""
    from transformers import LlamaConfig, LlavaConfig

    text_keys = set(LlamaConfig().to_dict()) - {"architectures", "model_type", "torch_dtype", "dtype",
                                                 "transformers_version", "_name_or_path"}
    text_config = LlamaConfig(**{k: v for k, v in config.items() if k in text_keys})
    select = config.get("mm_vision_select_feature", "patch")
    return LlavaConfig(
        vision_config=vision_config, text_config=text_config, image_token_id=image_token_id,
        projector_hidden_act="gelu", vision_feature_layer=config.get("mm_vision_select_layer", -2),
        vision_feature_select_strategy="default" if select == "patch" else "full")


def convert(src: Path, out: Path) -> None:
    import torch
    from transformers import (
        AutoTokenizer,
        CLIPVisionConfig,
        CLIPVisionModel,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip import CLIPImageProcessorPil

    config = json.loads((src / "config.json").read_text())
    tower = config.get("mm_vision_tower")
    if not tower:
        raise ModelLoadError(f"{src}: config.json has no mm_vision_tower")
    if config.get("mm_projector_type", "mlp2x_gelu") != "mlp2x_gelu":
        raise ModelLoadError(f"{src}: projector {config['mm_projector_type']!r} is not supported (mlp2x_gelu is)")
    try:
        vision_config = CLIPVisionConfig.from_pretrained(tower, local_files_only=True)
        image_processor = CLIPImageProcessorPil.from_pretrained(tower, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(src), use_fast=True, local_files_only=True)
    except OSError as error:
        raise ModelLoadError(f"{src}: cannot read the vision tower {tower!r} or the tokenizer offline ({error})") \
            from None
    if "<image>" not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
    llava_config = llava_config_for(config, vision_config, tokenizer.convert_tokens_to_ids("<image>"))
    with torch.device("meta"):
        model = LlavaForConditionalGeneration(llava_config)
    target_keys = set(model.state_dict())
    checkpoint = _load_state(_weight_files(src))
    mapping, _, unmapped = map_keys(checkpoint, target_keys)
    if unmapped:  # a weight we would silently lose (a tuned part this converter does not know)
        raise ModelLoadError(f"{src}: {len(unmapped)} weights have no place in the llava-hf layout, e.g. "
                             f"{', '.join(unmapped[:3])}")
    state = {new: checkpoint[old] for old, new in mapping.items()}
    if not any(k.startswith("model.vision_tower.") for k in state):
        for key, value in CLIPVisionModel.from_pretrained(tower, local_files_only=True).state_dict().items():
            suffix = key.split("vision_model.", 1)[-1]  # older transformers nest the tower in vision_model
            new = rename_key(f"vision_model.{suffix}", target_keys)
            if new is not None:
                state[new] = value
    vocab = len(tokenizer)
    for name in ("model.language_model.embed_tokens.weight", "lm_head.weight"):
        weight = state[name]
        if weight.shape[0] < vocab:  # new token rows: the mean of the trained ones
            extra = weight.float().mean(0, keepdim=True).to(weight.dtype).expand(vocab - weight.shape[0], -1)
            state[name] = torch.cat([weight, extra])
    llava_config.text_config.vocab_size = vocab
    with torch.device("meta"):
        model = LlavaForConditionalGeneration(llava_config)
    missing = sorted(target_keys - set(state))
    if missing:
        raise ModelLoadError(f"{src}: weights missing after conversion, e.g. {', '.join(missing[:3])}")
    model.load_state_dict(state, assign=True, strict=True)
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer,
                               patch_size=vision_config.patch_size,
                               vision_feature_select_strategy=llava_config.vision_feature_select_strategy,
                               num_additional_image_tokens=1, chat_template=LLAVA_V1_TEMPLATE)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "qinstruct.json").write_text(json.dumps({"label": f"{src.name} (converted from original LLaVA)",
                                                    "converted_from": str(src.resolve())}))
    (out / ".complete").write_text("ok")  # written last: a half-written conversion is redone
