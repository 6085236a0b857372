"""mPLUG-Owl2's eyes: a ViT (CLIP ViT-L/14 at 448 px in the releases) and the visual abstractor, which turns the
ViT's 1 025 patch features into 64 learnt queries plus an end-of-image token in the decoder's width.

Module and parameter names follow the published checkpoints (`vision_model.embeddings.patch_embed`,
`visual_abstractor.encoder.layers.N.crossattention...`), so their weights load as they are.  Attention is
torch's scaled_dot_product_attention (fused kernels on a GPU); nothing here is masked.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import ACT2FN


def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """(len(positions), dim) sine-cosine embedding: sines of all frequencies, then cosines."""
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float32) / (dim / 2.0))
    angles = np.einsum("m,d->md", positions.reshape(-1).astype(np.float32), omega)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def sincos_2d(dim: int, grid: int, cls_row: bool) -> np.ndarray:
    """(grid² [+1], dim): half the channels encode the row, half the column; a zero row first for the CLS token."""
    columns, rows = np.meshgrid(np.arange(grid, dtype=np.float32), np.arange(grid, dtype=np.float32))
    table = np.concatenate([sincos_1d(dim // 2, columns), sincos_1d(dim // 2, rows)], axis=1)
    return np.concatenate([np.zeros((1, dim)), table], axis=0) if cls_row else table


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, width = x.shape
    return x.view(batch, length, heads, width // heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    batch, heads, length, dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * dim)


class VisionEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        width = config.hidden_size
        if not config.use_cls_token:
            raise ValueError("mPLUG-Owl2 vision configs without a CLS token are not supported (no release uses one)")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.patch_embed = nn.Conv2d(config.num_channels, width, config.patch_size, config.patch_size, bias=False)
        patches = (config.image_size // config.patch_size) ** 2
        self.position_embedding = nn.Parameter(torch.zeros(1, patches + 1, width))
        self.pre_layernorm = nn.LayerNorm(width, eps=config.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embed(pixel_values).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(patches.shape[0], -1, -1).to(patches.dtype), patches], dim=1)
        return self.pre_layernorm(tokens + self.position_embedding[:, :tokens.shape[1]].to(patches.dtype))


class VisionAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.query_key_value = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        # the fused projection is laid out head by head: (heads, q|k|v, head_dim)
        qkv = self.query_key_value(x).view(batch, length, self.heads, 3, width // self.heads).permute(3, 0, 2, 1, 4)
        return self.dense(_merge(F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])))


class VisionMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class VisionLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = VisionAttention(config)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = VisionMLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class VisionEncoder(nn.Module):
    """Only a holder: the checkpoints name the layers `encoder.layers.N` (VisionModel runs them)."""

    def __init__(self, config):
        super().__init__()
        self.layers = nn.ModuleList(VisionLayer(config) for _ in range(config.num_hidden_layers))


class VisionModel(nn.Module):
    """Pixels (B, 3, S, S) -> (B, 1 + (S / patch)², width): the CLS token and every patch."""

    def __init__(self, config):
        super().__init__()
        self.embeddings = VisionEmbeddings(config)
        self.encoder = VisionEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) \
            if config.use_post_layernorm else None
        self.gradient_checkpointing = False

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(pixel_values)
        for layer in self.encoder.layers:
            if self.gradient_checkpointing and self.training:
                x = torch.utils.checkpoint.checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        return self.post_layernorm(x) if self.post_layernorm is not None else x


class AbstractorMLP(nn.Module):
    """SwiGLU with a LayerNorm on the gated features."""

    def __init__(self, config):
        super().__init__()
        self.w1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.w2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.w3 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.ffn_ln = nn.LayerNorm(config.intermediate_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(self.ffn_ln(F.silu(self.w1(x)) * self.w3(x)))


class AbstractorCrossAttention(nn.Module):
    """Queries attend to themselves and the image together; keys carry fixed sine-cosine positions (1-D for the
    queries, 2-D over the patch grid for the image), values do not."""

    def __init__(self, config):
        super().__init__()
        width = config.hidden_size
        self.heads = config.num_attention_heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(config.encoder_hidden_size, width)
        self.value = nn.Linear(config.encoder_hidden_size, width)
        queries = np.arange(config.num_learnable_queries, dtype=np.float32)
        # buffers, saved with the weights as the original saves them
        self.register_buffer("q_pos_embed", torch.from_numpy(sincos_1d(width, queries)).float())
        self.register_buffer("k_pos_embed", torch.from_numpy(
            sincos_2d(width, config.grid_size, config.use_cls_token)).float())

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """queries (B, Q, D) normalised; context (B, Q + P, D): the normalised queries, then the image."""
        dtype = queries.dtype
        positions = torch.cat([self.q_pos_embed, self.k_pos_embed]).unsqueeze(0).to(dtype)
        query = _heads(self.query(queries + self.q_pos_embed.unsqueeze(0).to(dtype)), self.heads)
        key = _heads(self.key(context + positions), self.heads)
        value = _heads(self.value(context), self.heads)
        return _merge(F.scaled_dot_product_attention(query, key, value))


class AbstractorOutput(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.out_proj = nn.Linear(config.encoder_hidden_size, config.encoder_hidden_size)
        self.norm2 = nn.LayerNorm(config.encoder_hidden_size)  # torch's default eps, as the original
        self.mlp = AbstractorMLP(config)

    def forward(self, attended: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        x = residual + self.out_proj(attended)
        return x + self.mlp(self.norm2(x))


class AbstractorBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = AbstractorCrossAttention(config)
        self.output = AbstractorOutput(config)
        self.norm1 = nn.LayerNorm(config.encoder_hidden_size)
        self.normk = nn.LayerNorm(config.encoder_hidden_size)

    def forward(self, queries: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        queries = self.norm1(queries)  # the residual below is the normalised queries, as in the original
        context = torch.cat([queries, self.normk(image)], dim=1)
        return self.output(self.attention(queries, context), queries)


class AbstractorLayer(nn.Module):
    """Holders for the checkpoints' names (`encoder.layers.N.crossattention`); VisualAbstractor runs the blocks."""

    def __init__(self, config):
        super().__init__()
        self.crossattention = AbstractorBlock(config)


class AbstractorEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layers = nn.ModuleList(AbstractorLayer(config) for _ in range(config.num_hidden_layers))


class VisualAbstractor(nn.Module):
    """ViT features (B, P, D) -> (B, queries + 1, decoder width)."""

    def __init__(self, config, decoder_width: int):
        super().__init__()
        if config.add_v2t_pos_emb:
            raise ValueError("mPLUG-Owl2 abstractor configs with add_v2t_pos_emb are not supported (no release uses "
                             "one)")
        self.encoder = AbstractorEncoder(config)
        self.visual_fc = nn.Linear(config.hidden_size, decoder_width)
        self.query_embeds = nn.Parameter(torch.zeros(1, config.num_learnable_queries, config.hidden_size))
        self.vit_eos = nn.Parameter(torch.zeros(1, 1, decoder_width))

    def forward(self, image_features: torch.Tensor) -> torch.Tensor:
        queries = self.query_embeds.expand(image_features.shape[0], -1, -1)
        for layer in self.encoder.layers:
            queries = layer.crossattention(queries, image_features)
        out = self.visual_fc(queries)
        return torch.cat([out, self.vit_eos.expand(out.shape[0], -1, -1).to(out.dtype)], dim=1)
