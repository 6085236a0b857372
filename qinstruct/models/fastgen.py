"""Fast greedy decoding: a static KV cache and the one-token decode step replayed as a CUDA graph.

Plain `generate()` spends most of a decode step launching kernels from Python (~40 tok/s for a 7B model on an
H200, where the memory-bound floor is ~340).  Here the prompt is prefilled once by the full model into a
StaticCache, then each new token runs the language model on fixed-shape buffers (token, position, cache
position, key mask) captured once as a CUDA graph: one replay per token, no host sync until we read the tokens.

The attention mask is built by us as a 4-D boolean mask over the cache (transformers uses a prepared 4-D mask
as is), so no data-dependent Python runs inside the captured step.  Rows may differ in adapter (baseline row
without LoRA, tuned row with it): instead of peft's mixed-batch routing, which indexes rows with Python lists
(a host-to-device copy that a CUDA graph cannot capture), each LoRA layer's scaling becomes a per-row tensor
(0 for a baseline row, the adapter's scaling for a tuned row), so one graph serves both rows.

The step itself is fused.py's (q/k/v and gate/up as one product each, LoRA A matrices included) when the
layers allow it, else transformers' decoder.  Works for decoders with 1-D rotary positions (LLaVA / Llama,
Idefics3); other families (Qwen2-VL's 3-D mrope) use generate().  Without CUDA the same loop runs eagerly
(tests check it token for token against generate()).
"""
from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .fused import FusedLlamaStep, NotFusable
from .types import BASE_ROW

SUPPORTED_MODEL_TYPES = ("llava", "idefics3", "smolvlm")

# The step attends over every slot of its static cache, so the cache is sized to the request: the smallest of
# these lengths that holds prompt + answer (one decoder, compiled and captured once, per length in use).
FAST_CACHE_LENGTHS = (1024, 2048, 4096)


def fast_cache_length(prompt_tokens: int, max_new_tokens: int) -> int | None:
    """The cache length for a request, or None when it needs more than the largest (generate() serves it)."""
    need = prompt_tokens + max_new_tokens + 1
    return next((length for length in FAST_CACHE_LENGTHS if length >= need), None)


def _unwrap(model):
    """(the transformers model, the peft model or None)."""
    if hasattr(model, "base_model") and hasattr(model, "peft_config"):
        return model.base_model.model, model
    return model, None


def sliding_window(text_config) -> int | None:
    """The attention window of decoders that use one (Mistral always, Qwen2 when asked), else None."""
    if text_config.model_type == "mistral" or getattr(text_config, "use_sliding_window", False):
        return getattr(text_config, "sliding_window", None)
    return None


def supports(model) -> bool:
    """LLaVA / Idefics3 models whose attention sees the whole cache (our key mask has no window)."""
    inner, _ = _unwrap(model)
    if inner.config.model_type not in SUPPORTED_MODEL_TYPES:
        return False
    window = sliding_window(inner.config.get_text_config())
    return window is None or window >= FAST_CACHE_LENGTHS[-1]


def cache_keyword(forward) -> str:
    """transformers renamed `past_key_values` to `cache` (5.2x); the GPU image has 5.17: ask the signature."""
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def _make_cache(inner, batch: int, max_len: int, device, dtype):
    from transformers import StaticCache

    config = inner.config.get_text_config()
    try:  # transformers >= 5.x
        cache = StaticCache(config=config, max_cache_len=max_len)
    except TypeError:  # older signature
        cache = StaticCache(config=config, max_batch_size=batch, max_cache_len=max_len, device=device, dtype=dtype)
    return cache


@dataclass
class _Buffers:
    tokens: torch.Tensor  # (B, 1) the token fed to the step
    positions: torch.Tensor  # (B, 1) rotary positions (real tokens before it)
    cache_position: torch.Tensor  # (1,) slot written in the cache
    valid: torch.Tensor  # (B, L) which cache slots hold real tokens
    next_tokens: torch.Tensor = field(default=None)  # (B,) argmax, written by the step


class GraphDecoder:
    """Greedy decoding for a fixed batch size and cache length; reuse one per (model, batch, max_len)."""

    def __init__(self, model, batch: int, max_len: int = 2048, adapter_names: list[str] | None = None,
                 use_graph: bool | None = None, compile_step: bool = False, fuse: bool = True):
        self.model = model
        self.inner, self.peft = _unwrap(model)
        if not supports(model):
            raise ValueError(f"GraphDecoder does not support {self.inner.config.model_type}")
        self.batch, self.max_len, self.adapter_names = batch, max_len, adapter_names
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.use_graph = (self.device.type == "cuda") if use_graph is None else use_graph
        self.decoder = self.inner.get_decoder()
        self.head = self.inner.get_output_embeddings()
        self.eager_attention = self.inner.config.get_text_config()._attn_implementation == "eager"
        self.cache = _make_cache(self.inner, batch, max_len, self.device, self.dtype)
        # fused q/k/v and gate/up products (LoRA A included) where the layers allow it; see fused.py
        self.fused, self.unfused_reason = None, "not asked" if not fuse else None
        if fuse:
            try:
                self.fused = FusedLlamaStep(self.decoder, self.cache, adapter_names, batch)
            except NotFusable as why:
                self.unfused_reason = str(why)
        self.buffers = _Buffers(
            tokens=torch.zeros(batch, 1, dtype=torch.long, device=self.device),
            positions=torch.zeros(batch, 1, dtype=torch.long, device=self.device),
            cache_position=torch.zeros(1, dtype=torch.long, device=self.device),
            valid=torch.zeros(batch, max_len, dtype=torch.bool, device=self.device),
            next_tokens=torch.zeros(batch, dtype=torch.long, device=self.device))
        self.graph: torch.cuda.CUDAGraph | None = None
        # torch.compile fuses the step's many small kernels (norms, rotary, LoRA scaling); the CUDA graph is then
        # captured around the compiled code.  Compiling takes tens of seconds: the studio does it at load time.
        self.step_fn = self._compiled_step() if compile_step else self._step
        self._row_scaling: list | None = None
        self.decoder_cache_kw = cache_keyword(self.decoder.forward)
        self.model_cache_kw = cache_keyword(self.inner.forward)

    @contextlib.contextmanager
    def _adapters(self):
        """Per-row LoRA scaling for the duration of a call: every adapter a row names is made active (peft only
        runs active ones) with a per-row scale tensor.  Both are restored afterwards, so other users of the peft
        model see it unchanged."""
        if self.peft is None or not self.adapter_names:
            yield
            return
        from peft.tuners.lora import LoraLayer

        if self._row_scaling is None:
            self._row_scaling = []
            for module in self.peft.modules():
                if isinstance(module, LoraLayer):
                    for adapter, scale in module.scaling.items():
                        rows = [float(scale) if name == adapter else 0.0 for name in self.adapter_names]
                        tensor = torch.tensor(rows, dtype=self.dtype, device=self.device).view(-1, 1, 1)
                        self._row_scaling.append((module, adapter, float(scale), tensor))
        wanted = list(dict.fromkeys(name for name in self.adapter_names if name != BASE_ROW))
        lora_modules = list({id(module): module for module, *_ in self._row_scaling}.values())
        active_before = [module._active_adapter for module in lora_modules]
        for module in lora_modules:
            module._active_adapter = wanted
        for module, adapter, _, tensor in self._row_scaling:
            module.scaling[adapter] = tensor
        try:
            yield
        finally:
            for module, adapter, scale, _ in self._row_scaling:
                module.scaling[adapter] = scale
            for module, active in zip(lora_modules, active_before):
                module._active_adapter = active

    def _mask(self) -> torch.Tensor:
        mask = self.buffers.valid[:, None, None, :]
        if self.eager_attention:  # eager attention adds the mask to the scores
            return torch.zeros(mask.shape, dtype=self.dtype, device=self.device).masked_fill(
                ~mask, torch.finfo(self.dtype).min)
        return mask

    def step_logits(self) -> torch.Tensor:
        """One decode step on the buffers: writes the cache slot, returns the (B, vocab) next-token logits."""
        b = self.buffers
        b.valid.index_fill_(1, b.cache_position, True)
        if self.fused is not None:
            hidden = self.fused(b.tokens, b.positions, b.cache_position, b.valid[:, None, None, :])
        else:
            hidden = self.decoder(input_ids=b.tokens, attention_mask=self._mask(), position_ids=b.positions,
                                  cache_position=b.cache_position, use_cache=True,
                                  **{self.decoder_cache_kw: self.cache}).last_hidden_state
        return self.head(hidden[:, -1])

    def _step(self) -> None:
        self.buffers.next_tokens.copy_(self.step_logits().argmax(-1))

    def _compiled_step(self):
        import torch._dynamo.config as dynamo_config
        import torch._inductor.config as inductor_config

        inductor_config.coordinate_descent_tuning = True  # better reductions for the batch-1 matrix-vector work
        # every decoder (per model, batch, cache length, adapters) compiles the same code object once; past
        # dynamo's default of 8 it would silently fall back to the uncompiled step
        dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, 64)
        return torch.compile(self._step, dynamic=False)

    def _capture(self) -> None:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), self._adapters():
            for _ in range(3):  # compile (if asked), warm up kernels and allocator outside the graph
                self.step_fn()
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), self._adapters():
            self.step_fn()

    def _run_step(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.step_fn()

    @torch.inference_mode()
    def prefill(self, inputs: dict) -> torch.Tensor:
        """Run the prompt (left-padded batch) through the full model into the cache; return the first tokens."""
        self.cache.reset()
        mask = inputs["attention_mask"]
        length = mask.shape[1]
        if length >= self.max_len:
            raise ValueError(f"prompt of {length} tokens does not fit max_len {self.max_len}")
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        with self._adapters():
            out = self.model(**inputs, position_ids=positions, use_cache=True, logits_to_keep=1,
                             cache_position=torch.arange(length, device=self.device),
                             **{self.model_cache_kw: self.cache})
        b = self.buffers
        b.valid.zero_()
        b.valid[:, :length] = mask.bool()
        b.positions.copy_(positions[:, -1:] + 1)
        b.cache_position.fill_(length)
        return out.logits[:, -1].argmax(-1)

    @torch.inference_mode()
    def generate(self, inputs: dict, max_new_tokens: int, eos_token_id: int | None = None,
                 on_tokens: Callable[[torch.Tensor], None] | None = None, sync_every: int = 8) -> torch.Tensor:
        """Greedy tokens (B, n).  on_tokens receives each step's (B,) tokens (for streaming); EOS is checked
        every `sync_every` steps, so rows that finished early get padding-free EOS tails."""
        first = self.prefill(inputs)
        length = int(self.buffers.cache_position.item())
        steps = min(max_new_tokens, self.max_len - length)
        b = self.buffers
        if self.use_graph and self.graph is None:
            b.tokens.copy_(first[:, None])
            self._capture()  # writes one provisional step at `length`, overwritten below
            self.prefill(inputs)
        out = torch.empty(self.batch, steps, dtype=torch.long, device=self.device)
        out[:, 0] = first
        finished = torch.zeros(self.batch, dtype=torch.bool, device=self.device)
        if eos_token_id is not None:
            finished |= first == eos_token_id
        if on_tokens:
            on_tokens(first)
        produced = 1
        with self._adapters():  # the graph reads the per-row scaling tensors it was captured with
            for k in range(1, steps):
                b.tokens.copy_(out[:, k - 1:k])
                self._run_step()
                token = torch.where(finished, torch.full_like(b.next_tokens, eos_token_id or 0), b.next_tokens)
                out[:, k] = token
                if eos_token_id is not None:
                    finished |= token == eos_token_id
                b.positions += 1
                b.cache_position += 1
                produced = k + 1
                if on_tokens:
                    on_tokens(token)
                if eos_token_id is not None and k % sync_every == 0 and bool(finished.all()):
                    break
        return out[:, :produced]
