"""The micro model family: real LLaVA models small enough to train on a CPU in minutes.

A `LlavaForConditionalGeneration` whose vision tower is a small convolutional network (4 x conv3x3-BN-ReLU,
strides 1/2/2/2: a 64 px image becomes 8 x 8 = 64 image tokens), a LLaVA projector and a small Llama.  The
tower's config and model are registered with transformers' Auto classes, so `from_pretrained`, the model layer,
the Chat tab, `rate`, `train` and `eval` load a saved micro model like any LLaVA checkpoint (without the
registration, a tower with a CLIP-like config would silently be rebuilt as CLIP).  Answers are generated token
by token by the language model, as in any LLaVA: these are not classifiers in disguise.

Why a conv tower: a ViT tower of this size learnt no low-level attribute through the language model on a CPU,
while this one does (../shared/notes/micro-world-study.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

TOWER_TYPE = "qinstruct_micro_tower"


class MicroTowerConfig(PretrainedConfig):
    model_type = TOWER_TYPE

    def __init__(self, channels=(32, 64, 128, 128), strides=(1, 2, 2, 2), image_size: int = 64, num_channels: int = 3,
                 **kwargs):
        super().__init__(**kwargs)
        self.channels, self.strides = list(channels), list(strides)
        self.image_size, self.num_channels = image_size, num_channels
        self.hidden_size = self.channels[-1]  # what LLaVA's projector reads
        scale = 1
        for stride in self.strides:
            scale *= stride
        self.patch_size = scale  # one image token per patch_size x patch_size pixels


class MicroTower(PreTrainedModel):
    config_class = MicroTowerConfig
    main_input_name = "pixel_values"
    base_model_prefix = "micro_tower"
    _supports_sdpa = True  # no attention here: any implementation the language model uses is fine
    _supports_flash_attn = True
    _supports_flex_attn = True

    def __init__(self, config: MicroTowerConfig):
        super().__init__(config)
        layers, before = [], config.num_channels
        for channels, stride in zip(config.channels, config.strides):
            layers += [nn.Conv2d(before, channels, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(channels),
                       nn.ReLU(inplace=True)]
            before = channels
        self.blocks = nn.Sequential(*layers)
        self.patch_size = config.patch_size
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, pixel_values: torch.Tensor, output_hidden_states: bool | None = None,
                return_dict: bool | None = None, **_ignored) -> BaseModelOutputWithPooling:
        features = self.blocks(pixel_values.to(self.blocks[0].weight.dtype))
        tokens = features.flatten(2).transpose(1, 2)  # (batch, 64, channels): one token per 8x8 patch
        return BaseModelOutputWithPooling(last_hidden_state=tokens, pooler_output=tokens.mean(1),
                                          hidden_states=(tokens,))


AutoConfig.register(TOWER_TYPE, MicroTowerConfig, exist_ok=True)
AutoModel.register(MicroTowerConfig, MicroTower, exist_ok=True)


@dataclass(frozen=True)
class MicroSize:
    hidden: int
    layers: int
    heads: int
    mlp: int
    channels: tuple[int, ...] = (32, 64, 128, 128)


SIZES = {"small": MicroSize(hidden=128, layers=2, heads=4, mlp=384, channels=(24, 48, 96, 96)),
         "full": MicroSize(hidden=192, layers=4, heads=4, mlp=512)}


def build_micro(texts: list[str], size: str = "full", seed: int = 0, image_size: int = 64):
    """A fresh (untrained) micro model and its processor; the tokenizer is trained on the protocols' wording,
    the low-level vocabulary and `texts` (the demo world's own sentences), merges run to completion."""
    from transformers import LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip import CLIPImageProcessorPil

    from .families import LLAVA_TEMPLATE
    from .tokenizer import build_tokenizer

    shape = SIZES[size]
    tokenizer = build_tokenizer(vocab_size=4096, chat_template=LLAVA_TEMPLATE, corpus=tuple(texts))
    tower = MicroTowerConfig(channels=shape.channels, image_size=image_size)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": image_size},
                                            crop_size={"height": image_size, "width": image_size})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=tower.patch_size,
                               vision_feature_select_strategy="full", chat_template=LLAVA_TEMPLATE,
                               num_additional_image_tokens=0)
    text = LlamaConfig(hidden_size=shape.hidden, intermediate_size=shape.mlp, num_hidden_layers=shape.layers,
                       num_attention_heads=shape.heads, num_key_value_heads=shape.heads, vocab_size=len(tokenizer),
                       max_position_embeddings=1024, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    config = LlavaConfig(vision_config=tower, text_config=text, vision_feature_select_strategy="full",
                         vision_feature_layer=-1, image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                         image_seq_length=(image_size // tower.patch_size) ** 2, tie_word_embeddings=True)
    torch.manual_seed(seed)
    return LlavaForConditionalGeneration(config).eval(), processor
