"""mPLUG-Owl2 natively on today's transformers: the LLaMA-2 decoder with modality-adaptive modules.

Each decoder layer has two RMSNorms before attention, two before the MLP, and two key and two value projections:
one of each for text tokens (index 0), one for image tokens (index 1), chosen per token by where the image's
features sit in the sequence.  Queries, outputs and the MLP are shared.  Images are encoded by vision.py into
(queries + 1) features each, written over the placeholder ids the processor put in `input_ids`.

Written against the interfaces that transformers 5.17 (the GPU machines) and 5.2x (here) share: a DynamicCache
passed as `past_key_values` or `cache`, torch's scaled_dot_product_attention with our own causal/padding mask,
and the output field for the cache that the installed release names.  Names of modules and parameters are the
published checkpoints' own (`model.layers.N.self_attn.k_proj.multiway.1.weight`, `model.vision_model...`,
`lm_head.weight`): a release loads with `from_pretrained` as it is.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import CausalLMOutputWithPast

from .config import MplugOwl2Config
from .vision import VisionModel, VisualAbstractor

# transformers 5.2x renamed the outputs' cache field from past_key_values to cache
CACHE_FIELD = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"
TEXT, IMAGE = 0, 1


class RMSNorm(nn.Module):
    def __init__(self, width: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x.float() * torch.rsqrt(variance + self.eps)).to(x.dtype)


class Multiway(nn.Module):
    """One module per modality; each token goes through its own.  `image_mask` (B, T) is True at image tokens."""

    def __init__(self, make):
        super().__init__()
        self.multiway = nn.ModuleList([make(), make()])

    def forward(self, x: torch.Tensor, image_mask: torch.Tensor | None) -> torch.Tensor:
        text = self.multiway[TEXT](x)
        if image_mask is None or not bool(image_mask.any()):
            return text  # decoding steps and text-only prompts: one path
        return torch.where(image_mask[..., None], self.multiway[IMAGE](x), text)


class RotaryEmbedding(nn.Module):
    """LLaMA's rotary positions (optionally linearly scaled), cos and sin in float32 then the model's dtype."""

    def __init__(self, config: MplugOwl2Config):
        super().__init__()
        dim = config.hidden_size // config.num_attention_heads
        self.scale = config.rope_factor
        self.dim, self.theta = dim, config.rope_theta

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor):
        # computed per call, not kept as a buffer: nothing to restore when weights load onto a meta-built model
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.dim, 2, device=x.device).float() / self.dim))
        angles = (position_ids.float() / self.scale)[..., None] * inv_freq
        angles = torch.cat([angles, angles], dim=-1)
        return angles.cos().to(x.dtype), angles.sin().to(x.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos[:, None] + _rotate_half(x) * sin[:, None]


class Attention(nn.Module):
    def __init__(self, config: MplugOwl2Config, layer_idx: int):
        super().__init__()
        width, heads, kv_heads = config.hidden_size, config.num_attention_heads, config.num_key_value_heads
        self.heads, self.kv_heads, self.head_dim, self.layer_idx = heads, kv_heads, width // heads, layer_idx
        bias = config.attention_bias
        self.q_proj = nn.Linear(width, heads * self.head_dim, bias=bias)
        self.k_proj = Multiway(lambda: nn.Linear(width, kv_heads * self.head_dim, bias=bias))
        self.v_proj = Multiway(lambda: nn.Linear(width, kv_heads * self.head_dim, bias=bias))
        self.o_proj = nn.Linear(heads * self.head_dim, width, bias=bias)

    def forward(self, x, image_mask, rotary, mask, cache):
        batch, length, _ = x.shape
        query = self.q_proj(x).view(batch, length, self.heads, self.head_dim).transpose(1, 2)
        key = self.k_proj(x, image_mask).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
        value = self.v_proj(x, image_mask).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = rotary
        query, key = rotate(query, cos, sin), rotate(key, cos, sin)
        if cache is not None:
            key, value = cache.update(key, value, self.layer_idx)
        if self.kv_heads != self.heads:
            key = key.repeat_interleave(self.heads // self.kv_heads, dim=1)
            value = value.repeat_interleave(self.heads // self.kv_heads, dim=1)
        causal = mask is None and length > 1
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, is_causal=causal)
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))


class MLP(nn.Module):
    def __init__(self, config: MplugOwl2Config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act = ACT2FN[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: MplugOwl2Config, layer_idx: int):
        super().__init__()
        eps = config.rms_norm_eps
        self.input_layernorm = Multiway(lambda: RMSNorm(config.hidden_size, eps))
        self.self_attn = Attention(config, layer_idx)
        self.post_attention_layernorm = Multiway(lambda: RMSNorm(config.hidden_size, eps))
        self.mlp = MLP(config)

    def forward(self, x, image_mask, rotary, mask, cache):
        x = x + self.self_attn(self.input_layernorm(x, image_mask), image_mask, rotary, mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x, image_mask))


class MplugOwl2Model(nn.Module):
    """The decoder and the eyes, under the names the checkpoints use (`model.` prefix)."""

    def __init__(self, config: MplugOwl2Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config)
        self.vision_model = VisionModel(config.vision)
        self.visual_abstractor = VisualAbstractor(config.abstractor, config.hidden_size)
        self.gradient_checkpointing = False


def attention_mask_4d(padding: torch.Tensor | None, length: int, past: int, dtype, device) -> torch.Tensor | None:
    """Additive (B, 1, length, past + length) mask: causal, and no attention to padded keys.  None when nothing is
    padded (the fused causal kernel is used)."""
    if (padding is None or bool(padding.all())) and (past == 0 or length == 1):
        return None
    total = past + length
    if padding is None:
        padding = torch.ones(1, total, dtype=torch.bool, device=device)
    keys = torch.arange(total, device=padding.device)
    queries = torch.arange(past, total, device=padding.device)
    causal = keys[None, :] <= queries[:, None]
    # a padded query row (left padding) would see nothing and give NaNs: let every query see at least itself
    itself = keys[None, :] == queries[:, None]
    allowed = (causal & (padding[:, None, None, -total:].bool() | itself))
    mask = torch.zeros(allowed.shape, dtype=dtype, device=padding.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


class MplugOwl2ForConditionalGeneration(PreTrainedModel, GenerationMixin):
    config_class = MplugOwl2Config
    base_model_prefix = ""
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _no_split_modules = ["DecoderLayer", "VisionLayer"]

    def __init__(self, config: MplugOwl2Config):
        super().__init__(config)
        self.model = MplugOwl2Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)
        for name in ("cls_token", "position_embedding", "query_embeds", "vit_eos"):
            if isinstance(getattr(module, name, None), nn.Parameter):
                nn.init.normal_(getattr(module, name), std=std)

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def set_input_embeddings(self, value):
        self.model.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def _set_gradient_checkpointing(self, enable: bool = True, gradient_checkpointing_func=None, **_options):
        """Checkpoint every decoder and ViT layer (5.2x also passes every_n_layers and offloading: the same here)."""
        self.model.gradient_checkpointing = enable
        self.model.vision_model.gradient_checkpointing = enable

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) -> (N, queries + 1, width)."""
        return self.model.visual_abstractor(self.model.vision_model(pixel_values))

    def embed(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None):
        """Token embeddings with each image's features over its placeholders; and where the image tokens are."""
        image_mask = input_ids == self.config.image_placeholder_id
        embeds = self.model.embed_tokens(input_ids.masked_fill(image_mask, 0))
        if not bool(image_mask.any()):
            return embeds, None
        if pixel_values is None:
            raise ValueError("the prompt has image placeholders but no pixel_values were given")
        features = self.encode_images(pixel_values.to(embeds.dtype)).reshape(-1, embeds.shape[-1])
        if features.shape[0] != int(image_mask.sum()):
            raise ValueError(f"{int(image_mask.sum()) // self.config.image_tokens} image placeholders in the prompt "
                             f"but {pixel_values.shape[0]} images")
        return embeds.masked_scatter(image_mask[..., None], features.to(embeds.dtype)), image_mask

    def forward(self, input_ids=None, pixel_values=None, attention_mask=None, position_ids=None,
                past_key_values=None, cache=None, inputs_embeds=None, labels=None, use_cache=None,
                logits_to_keep: int = 0, return_dict=None, **kwargs):
        from transformers import DynamicCache

        cache = cache if cache is not None else past_key_values
        if inputs_embeds is None:
            inputs_embeds, image_mask = self.embed(input_ids, pixel_values)
        else:
            image_mask = kwargs.get("image_mask")
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and cache is None and not self.training:
            cache = DynamicCache()
        elif not use_cache:
            cache = None
        past = cache.get_seq_length() if cache is not None else 0
        length = inputs_embeds.shape[1]
        if position_ids is None:
            if attention_mask is not None:  # left padding: positions count real tokens, as an unpadded row would
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -length:]
            else:
                position_ids = torch.arange(past, past + length, device=inputs_embeds.device)[None]
        mask = attention_mask_4d(attention_mask, length, past, inputs_embeds.dtype, inputs_embeds.device)
        rotary = self.model.rotary_emb(inputs_embeds, position_ids)
        hidden = inputs_embeds
        for layer in self.model.layers:
            if self.model.gradient_checkpointing and self.training:
                hidden = torch.utils.checkpoint.checkpoint(layer, hidden, image_mask, rotary, mask, None,
                                                           use_reentrant=False)
            else:
                hidden = layer(hidden, image_mask, rotary, mask, cache)
        hidden = self.model.norm(hidden)
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                   labels[:, 1:].reshape(-1).to(logits.device), ignore_index=-100)
        return CausalLMOutputWithPast(loss=loss, logits=logits, **{CACHE_FIELD: cache})
