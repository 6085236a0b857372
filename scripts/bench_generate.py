#!/usr/bin/env python
"""GPU benchmark: a LLaVA-1.5-7B-shaped model with random weights (bf16), plain transformers vs our paths, one run.

  decode   plain `generate` (batch 1, 128 new tokens, greedy) vs GraphDecoder (static cache, compiled step,
           CUDA graph), with the fused step (q/k/v and gate/up as one product each) and with transformers' own
  pair     baseline + LoRA (r 128 on q_proj/v_proj, bf16) as one batch of 2 with per-row adapters, one base
           copy: per-stream speed vs our best single stream
  rate     next-token logits for a 601-token prompt (576 image tokens): plain batch 1 (full logits, KV cache)
           and batch 16 (logits_to_keep=1, padding mask) vs the studio's rating_forward (batch 32: no cache, last
           position only, no mask since no row is padded) and the same with compile_blocks (`rate --compile`)

Random weights give honest speeds (same shapes, same kernels); greedy tokens are compared between paths.
`--tiny` runs the same code on a tiny config (CPU dry run; no CUDA graphs or compilation there).

    python -m scripts.bench_generate [--tiny] [--json OUT] [--skip decode pair rate]
                                     [--decode-variants fused unfused] [--pair-variants fused unfused]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from functools import partial
from pathlib import Path

import torch

from qinstruct.models.fastgen import GraphDecoder, fast_cache_length
from qinstruct.models.rating import compile_blocks, rating_forward

IMAGE_TOKENS, TEXT_TOKENS, NEW_TOKENS = 576, 25, 128


def build_model(tiny: bool):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    if tiny:
        vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                  image_size=48, patch_size=8, projection_dim=32)
        text = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=4, vocab_size=1000, max_position_embeddings=1024)
    else:  # llava-hf/llava-1.5-7b-hf shapes
        vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                  num_attention_heads=16, image_size=336, patch_size=14, projection_dim=768)
        text = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                           num_key_value_heads=32, vocab_size=32064, max_position_embeddings=4096, rms_norm_eps=1e-5)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_id=32000 if not tiny else 999,
                         vision_feature_layer=-2, vision_feature_select_strategy="default")
    config.text_config.eos_token_id = None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    return instantiate(LlavaForConditionalGeneration, config, device, dtype), device, dtype


def instantiate(model_class, config, device, dtype):
    """A random model built directly on the device in the dtype (seed 0), generating until told to stop."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    with torch.device(device):
        torch.manual_seed(0)
        model = model_class(config).eval()
    torch.set_default_dtype(previous)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model


def make_inputs(model, batch: int, device, dtype, image_tokens: int, seed: int = 0):
    config = model.config
    generator = torch.Generator().manual_seed(seed)
    vocab = config.text_config.vocab_size
    text = torch.randint(3, min(vocab, 32000) - 1, (batch, TEXT_TOKENS), generator=generator)
    image = torch.full((batch, image_tokens), config.image_token_id)
    ids = torch.cat([text[:, :5], image, text[:, 5:]], dim=1).to(device)
    size = config.vision_config.image_size
    pixels = torch.randn(batch, 3, size, size, generator=generator).to(device, dtype)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": pixels}


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, repeats: int = 3):
    best, result = float("inf"), None
    for _ in range(repeats):
        sync()
        tic = time.perf_counter()
        result = fn()
        sync()
        best = min(best, time.perf_counter() - tic)
    return best, result


def cache_length(inputs) -> int:
    """The static cache length the studio picks for this request (attention reads every slot)."""
    prompt = inputs["input_ids"].shape[1]
    return fast_cache_length(prompt, NEW_TOKENS) or prompt + NEW_TOKENS + 1


def bench_decode(model, inputs, report, compile_step: bool, variants: list[str]):
    """Plain generate() vs GraphDecoder, each asked variant: fused (q/k/v and gate/up as one product each) or
    unfused (transformers' decoder as the step); compiled and captured as a CUDA graph on a GPU."""
    with torch.inference_mode():
        plain_fn = lambda: model.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,  # noqa: E731
                                          do_sample=False)
        plain_fn()  # warm-up
        plain_s, plain_out = timed(plain_fn, 2)
    plain_tokens = plain_out[:, inputs["input_ids"].shape[1]:]
    report["decode"] = {"plain_tok_s": NEW_TOKENS / plain_s, "cache_length": cache_length(inputs)}
    best = None
    for variant in variants:
        fuse = variant == "fused"
        decoder = GraphDecoder(model, batch=1, max_len=cache_length(inputs),
                               compile_step=compile_step, fuse=fuse)
        tic = time.perf_counter()
        decoder.generate(inputs, 4)  # capture (and compile): the "first call", done at load time in the studio
        sync()
        first_s = time.perf_counter() - tic
        seconds, tokens = timed(partial(decoder.generate, inputs, NEW_TOKENS), 3)
        same = int((plain_tokens[0] == tokens[0]).cumprod(0).sum())
        report["decode"][variant] = {"tok_s": NEW_TOKENS / seconds, "speedup": plain_s / seconds,
                                     "first_call_s": first_s, "matching_prefix_tokens": same,
                                     "compiled": compile_step, "graph": decoder.graph is not None,
                                     "fused": decoder.fused is not None}
        print(f"decode {variant}: {NEW_TOKENS / seconds:.1f} tok/s (plain {NEW_TOKENS / plain_s:.1f})", flush=True)
        if best is None or NEW_TOKENS / seconds > best[0]:
            best = (NEW_TOKENS / seconds, tokens)
    report["decode"]["ours_tok_s"] = best[0]
    return best


def bench_pair(model, inputs, single_tokens, report, compile_step: bool, variants: list[str]):
    """Baseline + LoRA as one batch of 2 rows (per-row adapters, one base copy), per-stream speed."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=128, lora_alpha=256, lora_dropout=0.0, init_lora_weights=False,
                      target_modules=r".*language_model.*\.(q_proj|v_proj)")
    # the adapter in bf16 like the studio loads it (peft's default upcasts it to fp32, for training)
    peft_model = get_peft_model(model, lora, adapter_name="tuned", autocast_adapter_dtype=False).eval()
    for param in peft_model.parameters():
        param.requires_grad_(False)
    pair_inputs = {k: torch.cat([v, v]) for k, v in inputs.items()}
    report["pair"] = {}
    for variant in variants:
        decoder = GraphDecoder(peft_model, batch=2, max_len=cache_length(inputs),
                               adapter_names=["__base__", "tuned"], compile_step=compile_step,
                               fuse=variant == "fused")
        tic = time.perf_counter()
        decoder.generate(pair_inputs, 4)
        sync()
        capture_s = time.perf_counter() - tic
        pair_s, tokens = timed(partial(decoder.generate, pair_inputs, NEW_TOKENS), 3)
        base_same = int((tokens[0] == single_tokens[0]).cumprod(0).sum())
        report["pair"][variant] = {
            "per_stream_tok_s": NEW_TOKENS / pair_s, "first_call_s": capture_s, "compiled": compile_step,
            "vs_best_single_stream": (NEW_TOKENS / pair_s) / report["decode"]["ours_tok_s"],
            "base_row_matching_prefix": base_same, "rows_differ": bool((tokens[0] != tokens[1]).any()),
            "graph": decoder.graph is not None, "fused": decoder.fused is not None}
        print(f"pair {variant}: {NEW_TOKENS / pair_s:.1f} tok/s per stream", flush=True)
    return peft_model.unload()  # the plain model again, for the rating benchmark


def bench_rate(model, device, dtype, image_tokens, report, images: int = 64, autotune: bool = False):
    def throughput(batch: int, plain: bool, label: str):
        inputs = make_inputs(model, batch, device, dtype, image_tokens, seed=1)
        # plain: transformers' defaults (full logits, KV cache) at batch 1, logits_to_keep=1 when batched;
        # ours: the studio's rating_forward (no cache, last position only, no mask when no row is padded)
        extra = {"logits_to_keep": 1} if batch > 1 else {}

        def run():
            for _ in range(max(1, images // batch)):
                model(**inputs, **extra) if plain else rating_forward(model, inputs)

        with torch.inference_mode():
            run()
            seconds, _ = timed(run, 2)
        report["rate"][label] = max(1, images // batch) * batch / seconds
        print(f"rate {label}: {report['rate'][label]:.1f}", flush=True)

    report["rate"] = {}
    throughput(1, True, "plain_bs1_img_s")
    throughput(16, True, "plain_bs16_keep1_img_s")
    throughput(32, False, "ours_bs32_img_s")
    if device == "cuda":  # regional compilation: each repeated block compiled once, reused by all its copies
        tic = time.perf_counter()
        report["rate"]["compiled_blocks"] = compile_blocks(model)  # what `qinstruct rate --compile` does
        throughput(32, False, "ours_bs32_compiled_img_s")
        report["rate"]["compile_and_first_run_s"] = time.perf_counter() - tic
        throughput(64, False, "ours_bs64_compiled_img_s")
        if autotune:
            # inductor benchmarks its own GEMM templates against cuBLAS for each shape
            torch._dynamo.reset()
            tic = time.perf_counter()
            compile_blocks(model, mode="max-autotune-no-cudagraphs")
            throughput(32, False, "ours_bs32_autotuned_img_s")
            report["rate"]["autotune_and_first_run_s"] = time.perf_counter() - tic
    # correctness: batched, unmasked last-token logits equal the unbatched ones (up to bf16 noise)
    one = make_inputs(model, 1, device, dtype, image_tokens, seed=2)
    many = {k: torch.cat([v] * 4) for k, v in one.items()}
    with torch.inference_mode():
        a = model(**one, logits_to_keep=1).logits[:, -1].float()
        b = rating_forward(model, many).float()
    report["rate"]["batched_vs_single_rel_err"] = float((a - b[:1]).norm() / a.norm())


def main() -> int:
    parser = argparse.ArgumentParser(description="LLaVA-7B-shaped generation and rating benchmark")
    parser.add_argument("--tiny", action="store_true", help="tiny config, for a CPU dry run")
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument("--skip", nargs="*", default=[], choices=["decode", "pair", "rate"])
    parser.add_argument("--autotune", action="store_true", help="also try max-autotune GEMMs for rating")
    parser.add_argument("--decode-variants", nargs="+", default=["fused", "unfused"], choices=["fused", "unfused"],
                        help="decode steps to time (fused: q/k/v and gate/up as one product each)")
    parser.add_argument("--pair-variants", nargs="+", default=["fused"], choices=["fused", "unfused"])
    args = parser.parse_args()
    tic = time.perf_counter()
    model, device, dtype = build_model(args.tiny)
    image_tokens = 36 if args.tiny else IMAGE_TOKENS
    report = {"device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
              "torch": torch.__version__, "transformers": __import__("transformers").__version__,
              "build_s": time.perf_counter() - tic}
    inputs = make_inputs(model, 1, device, dtype, image_tokens)
    single, compile_step = None, device == "cuda"
    for part in ("decode", "pair", "rate"):
        if part in args.skip:
            continue
        try:
            if part == "decode":
                _, single = bench_decode(model, inputs, report, compile_step, args.decode_variants)
            elif part == "pair" and single is not None:
                model = bench_pair(model, inputs, single, report, compile_step, args.pair_variants)
            elif part == "rate":
                bench_rate(model, device, dtype, image_tokens, report, autotune=args.autotune)
        except Exception as error:  # report and go on: one failing part must not waste the whole lease
            report[f"{part}_error"] = f"{type(error).__name__}: {error}"[:500]
            import traceback

            traceback.print_exc()
        print(json.dumps(report, indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
