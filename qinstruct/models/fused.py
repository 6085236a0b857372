"""The decode step of a Llama-style decoder with fused projections, for GraphDecoder.

A batch-1 (or batch-2: baseline + tuned) decode step of a 7B model reads every weight once and is otherwise
bound by how many kernels it launches.  transformers runs q, k, v and gate, up as separate products, and peft
adds two more per LoRA-wrapped projection (A, then B, plus casts when the adapter is kept in fp32).  Here each
group of projections of the same input -- (q, k, v) and (gate, up) -- is one matrix product whose matrix also
holds the LoRA A matrices of its members, so an adapter costs one extra small product per group (its members'
B matrices as one block-diagonal matrix) and a row mask that torch.compile fuses into the neighbouring
element-wise work.

Memory stays one model: the fused matrix is built once and the original Linear (and LoRA A) weights become
views into it, so transformers' own forward (prefill, rating, generate) keeps working on the same storage.

Rows of one batch may use different adapters (the Chat tab's baseline row and tuned row): each adapter's
product is multiplied by a per-row mask (1 for rows that use it, 0 for the others).

Only plain LoRA on plain nn.Linear is fused; anything else (DoRA, LoRA bias, merged adapters, quantized layers,
layers that are not Llama-shaped) raises NotFusable, and GraphDecoder falls back to transformers' decoder.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F


class NotFusable(ValueError):
    """This model cannot take the fused decode step (the reason says why); the generic step is used."""


def _still_views(pieces: list, weight: torch.Tensor) -> bool:
    """True while every piece still points at its slice of `weight` (nothing reloaded or moved them)."""
    start = 0
    for piece in pieces:
        if piece.dtype == weight.dtype and piece.data_ptr() != weight[start].data_ptr():
            return False
        start += piece.shape[0]
    return True


@dataclass
class _AdapterProduct:
    """One adapter's LoRA across the group: its A outputs (adjacent in the fused product) times a block-diagonal
    B (every member's B, scaled by its LoRA scaling) gives all the members' deltas in one small product."""
    offset: int  # where the adapter's A outputs start in the fused product
    rank: int  # their total width (the members' ranks summed)
    B: torch.Tensor  # (sum of the members' widths, rank): block-diagonal, scaling folded in
    members: list  # (member index, start, end) of each member's delta in the product's output
    row_use: torch.Tensor  # (batch, 1, 1): 1 on rows that apply this adapter, 0 elsewhere


def _lora_layer_class():
    try:
        from peft.tuners.lora import LoraLayer
    except ImportError:  # peft is optional for plain models
        return None
    return LoraLayer


def row_scales(module, adapter: str, row_adapters: list[str] | None, batch: int) -> list[float]:
    """The LoRA scale each row applies for `adapter`: per-row names (mixed batch), else peft's active set."""
    scale = float(module.scaling[adapter])
    if row_adapters is not None:
        return [scale if name == adapter else 0.0 for name in row_adapters]
    active = not module.disable_adapters and adapter in module.active_adapters
    return [scale if active else 0.0] * batch


# first member's base Linear -> (the parameters fused, weight, bias): decoders of one model (batch 1 for one side,
# batch 2 for both sides) share one fused matrix instead of each concatenating its own copy
_FUSED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class FusedLinears:
    """Several linear maps of the same input computed as one product: outputs in member order, LoRA applied.

    The matrix holds every LoRA A of every member (whether or not a row uses it), so its layout depends on the
    model alone and is shared; which rows apply which adapter is this instance's row masks."""

    def __init__(self, modules: list, row_adapters: list[str] | None, batch: int):
        lora_class = _lora_layer_class()
        bases = []
        for module in modules:
            base = module
            if lora_class is not None and isinstance(module, lora_class):
                base = module.base_layer
            if type(base) is not torch.nn.Linear:
                raise NotFusable(f"{type(base).__name__} is not a plain Linear layer")
            bases.append(base)
        self.sizes = [base.out_features for base in bases]
        lora_As, self.products = [], []
        offset = sum(self.sizes)
        # adapters outer, members inner: each adapter's A rows are adjacent, so one B product serves the group
        for adapter, parts in self._adapters(modules, bases, row_adapters, batch):
            rank = sum(A.shape[0] for _, A, _, _ in parts)
            uses = {tuple(bool(scale) for scale in scales) for _, _, _, scales in parts}
            if len(uses) > 1:
                raise NotFusable(f"adapter {adapter!r} is active on different rows in one layer")
            row_use = uses.pop()
            if any(row_use):  # a LoRA no row uses costs its A rows in the product, but no B product
                dtype = bases[0].weight.dtype
                blocks = [B.detach().to(dtype) * next(s for s in scales if s) for _, _, B, scales in parts]
                members, start = [], 0
                for (index, _, B, _) in parts:
                    members.append((index, start, start + B.shape[0]))
                    start += B.shape[0]
                self.products.append(_AdapterProduct(
                    offset, rank, torch.block_diag(*blocks), members,
                    torch.tensor(row_use, dtype=dtype, device=bases[0].weight.device).view(-1, 1, 1)))
            lora_As += [A for _, A, _, _ in parts]
            offset += rank
        self.weight, self.bias = self._fused_matrix(bases, lora_As)

    @staticmethod
    def _adapters(modules: list, bases: list, row_adapters: list[str] | None, batch: int):
        """(adapter, [(member index, A, B, row scales), ...]) for every LoRA adapter on the group, sorted."""
        found: dict[str, list] = {}
        for index, module in enumerate(modules):
            if module is not bases[index]:
                for adapter, A, B, scales in FusedLinears._adapters_of(module, row_adapters, batch):
                    found.setdefault(adapter, []).append((index, A, B, scales))
        return sorted(found.items())

    @staticmethod
    def _adapters_of(module, row_adapters: list[str] | None, batch: int):
        if getattr(module, "merged", False):
            raise NotFusable("an adapter is merged into its base weights")
        for adapter in sorted(module.lora_A):
            if module.use_dora.get(adapter) or getattr(module, "lora_bias", {}).get(adapter):
                raise NotFusable(f"adapter {adapter!r} uses DoRA or a LoRA bias")
            yield (adapter, module.lora_A[adapter].weight, module.lora_B[adapter].weight,
                   row_scales(module, adapter, row_adapters, batch))

    @staticmethod
    def _fused_matrix(bases: list, lora_As: list):
        """The shared fused (weight, bias), built once: the original parameters then point at its slices."""
        pieces = [base.weight for base in bases] + lora_As
        cached = _FUSED.get(bases[0])
        if cached is not None and cached[0] == [id(piece) for piece in pieces] and _still_views(pieces, cached[1]):
            return cached[1], cached[2]
        dtype = bases[0].weight.dtype
        weight = torch.cat([piece.detach().to(dtype) for piece in pieces])
        bias = None
        if any(base.bias is not None for base in bases):
            biases = [base.bias if base.bias is not None else weight.new_zeros(base.out_features) for base in bases]
            lora_rows = weight.new_zeros(weight.shape[0] - sum(base.out_features for base in bases))
            bias = torch.cat([b.detach() for b in biases] + [lora_rows])  # LoRA A products have no bias
        start = 0
        for piece, owner in zip(pieces, bases + [None] * len(lora_As)):
            end = start + piece.shape[0]
            if piece.dtype == dtype:  # an fp32 adapter on a bf16 base keeps its own (small) copy
                piece.data = weight[start:end]
            if owner is not None and owner.bias is not None:
                owner.bias.data = bias[start:end]
            start = end
        _FUSED[bases[0]] = ([id(piece) for piece in pieces], weight, bias)
        return weight, bias

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        y = F.linear(x, self.weight, self.bias)
        outputs = list(y[..., :sum(self.sizes)].split(self.sizes, dim=-1))
        for lora in self.products:
            deltas = F.linear(y[..., lora.offset:lora.offset + lora.rank], lora.B) * lora.row_use
            for member, start, end in lora.members:
                outputs[member] = outputs[member] + deltas[..., start:end]
        return outputs


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


@dataclass
class _Layer:
    input_norm: object
    post_norm: object
    qkv: FusedLinears
    o_proj: object
    gate_up: FusedLinears
    down_proj: object
    act: object


class FusedLlamaStep:
    """One decode step over a StaticCache: (B, T) tokens -> (B, T, hidden) final-normed states.

    The caller owns the buffers: token ids, rotary positions, the cache slots to write and a boolean key mask
    (B, 1, 1, cache length) of the slots that hold real tokens."""

    # decoders whose layers are exactly norm -> attention (rotary, no q/k norms) -> norm -> gated MLP; others
    # (Gemma's scaled embeddings and extra norms, Qwen3's q/k norms, ...) take transformers' own step
    TEXT_MODEL_TYPES = ("llama", "mistral", "qwen2")

    def __init__(self, text_model, cache, row_adapters: list[str] | None, batch: int):
        config = text_model.config
        if config.model_type not in self.TEXT_MODEL_TYPES:
            raise NotFusable(f"no fused step for {config.model_type} decoders")
        self.text_model, self.cache = text_model, cache
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.scaling = self.head_dim ** -0.5
        self.layers = [self._fuse_layer(layer, row_adapters, batch) for layer in text_model.layers]

    @staticmethod
    def _fuse_layer(layer, row_adapters, batch) -> _Layer:
        attention, mlp = getattr(layer, "self_attn", None), getattr(layer, "mlp", None)
        names = ("q_proj", "k_proj", "v_proj", "o_proj")
        if attention is None or mlp is None or not all(hasattr(attention, n) for n in names) \
                or not all(hasattr(mlp, n) for n in ("gate_proj", "up_proj", "down_proj", "act_fn")):
            raise NotFusable(f"{type(layer).__name__} is not a Llama-style decoder layer")
        if getattr(layer, "attention_type", "full_attention") != "full_attention":
            raise NotFusable("sliding-window layers")
        return _Layer(layer.input_layernorm, layer.post_attention_layernorm,
                      FusedLinears([attention.q_proj, attention.k_proj, attention.v_proj], row_adapters, batch),
                      attention.o_proj,
                      FusedLinears([mlp.gate_proj, mlp.up_proj], row_adapters, batch),
                      mlp.down_proj, mlp.act_fn)

    def __call__(self, tokens, positions, cache_position, mask) -> torch.Tensor:
        hidden = self.text_model.embed_tokens(tokens)
        cos, sin = self.text_model.rotary_emb(hidden, positions)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        batch, length = tokens.shape
        for index, layer in enumerate(self.layers):
            q, k, v = layer.qkv(layer.input_norm(hidden))
            q = q.view(batch, length, self.heads, self.head_dim).transpose(1, 2)
            k = k.view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            v = v.view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            slots = self.cache.layers[index]
            slots.keys.index_copy_(2, cache_position, k)
            slots.values.index_copy_(2, cache_position, v)
            attended = F.scaled_dot_product_attention(q, slots.keys, slots.values, attn_mask=mask, scale=self.scaling,
                                                      enable_gqa=self.kv_heads != self.heads)
            hidden = hidden + layer.o_proj(attended.transpose(1, 2).reshape(batch, length, -1))
            gate, up = layer.gate_up(layer.post_norm(hidden))
            hidden = hidden + layer.down_proj(layer.act(gate) * up)
        return self.text_model.norm(hidden)
