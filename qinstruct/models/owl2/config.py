"""mPLUG-Owl2's configuration, read from a published checkpoint's config.json as it is.

A published config.json is flat: the LLaMA-2 decoder's fields at the top level (model_type "mplug_owl2"), the
vision tower and the visual abstractor under `visual_config` {"visual_model": {...}, "visual_abstractor":
{...}}.  We keep that layout (a checkpoint loads without conversion) and fill what older configs leave out with
the original code's defaults (a ViT-L/14 at 448 px, 64 learnable queries).
"""
from __future__ import annotations

from transformers import PretrainedConfig

MODEL_TYPE = "mplug_owl2"
IMAGE_PLACEHOLDER = "<|image|>"  # where an image goes in a prompt (the original's DEFAULT_IMAGE_TOKEN)

VISION_DEFAULTS = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                       num_channels=3, image_size=448, patch_size=14, hidden_act="quick_gelu", layer_norm_eps=1e-6,
                       use_cls_token=True, use_post_layernorm=True)
ABSTRACTOR_DEFAULTS = dict(num_learnable_queries=64, hidden_size=1024, num_hidden_layers=6, num_attention_heads=16,
                           intermediate_size=2816, layer_norm_eps=1e-6, encoder_hidden_size=1024, grid_size=None,
                           use_cls_token=True, add_v2t_pos_emb=False)


def linear_rope_factor(rope_scaling: dict | None) -> float:
    """LLaMA-2's positions, optionally linearly scaled (the only scaling the original code's releases use)."""
    scaling = rope_scaling or {}
    kind = scaling.get("type") or scaling.get("rope_type")
    if kind not in (None, "linear", "default"):
        raise ValueError(f"rope_scaling {kind!r} is not supported for mPLUG-Owl2 (linear is)")
    return float(scaling.get("factor", 1.0)) if kind == "linear" else 1.0


class Section:
    """One part of visual_config as attributes: the published values over the original's defaults."""

    def __init__(self, defaults: dict, values: dict | None):
        self.__dict__.update({**defaults, **{k: v for k, v in (values or {}).items() if k in defaults}})


class MplugOwl2Config(PretrainedConfig):
    model_type = MODEL_TYPE

    def __init__(self, visual_config: dict | None = None, vocab_size: int = 32000, hidden_size: int = 4096,
                 intermediate_size: int = 11008, num_hidden_layers: int = 32, num_attention_heads: int = 32,
                 num_key_value_heads: int | None = None, hidden_act: str = "silu",
                 max_position_embeddings: int = 2048, rms_norm_eps: float = 1e-6, rope_theta: float = 10000.0,
                 rope_scaling: dict | None = None, rope_factor: float | None = None, attention_bias: bool = False,
                 initializer_range: float = 0.02,
                 image_placeholder_id: int | None = None, use_cache: bool = True, **kwargs):
        visual_config = visual_config or {}
        self.visual_config = {"visual_model": dict(visual_config.get("visual_model") or {}),
                              "visual_abstractor": dict(visual_config.get("visual_abstractor") or {})}
        self.vocab_size, self.hidden_size, self.intermediate_size = vocab_size, hidden_size, intermediate_size
        self.num_hidden_layers, self.num_attention_heads = num_hidden_layers, num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.hidden_act, self.max_position_embeddings = hidden_act, max_position_embeddings
        self.rms_norm_eps, self.rope_theta = rms_norm_eps, rope_theta
        # kept as a factor, not as rope_scaling, which transformers 5 reinterprets
        self.rope_factor = rope_factor or linear_rope_factor(rope_scaling)
        self.attention_bias, self.initializer_range, self.use_cache = attention_bias, initializer_range, use_cache
        # The id the processor writes where image features go; published checkpoints have no such token, so by
        # default it is the first id past the vocabulary (never embedded: features replace it).
        self.image_placeholder_id = vocab_size if image_placeholder_id is None else image_placeholder_id
        kwargs.pop("torch_dtype", None)
        kwargs.setdefault("bos_token_id", 1)
        kwargs.setdefault("eos_token_id", 2)
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(**kwargs)

    @property
    def vision(self) -> Section:
        return Section(VISION_DEFAULTS, self.visual_config["visual_model"])

    @property
    def abstractor(self) -> Section:
        section = Section(ABSTRACTOR_DEFAULTS, self.visual_config["visual_abstractor"])
        section.grid_size = section.grid_size or 32  # the original's default (448 / 14)
        return section

    @property
    def image_tokens(self) -> int:
        """Tokens one image becomes in the decoder: the abstractor's queries and its end-of-image token."""
        return self.abstractor.num_learnable_queries + 1
