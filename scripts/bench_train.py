#!/usr/bin/env python
"""GPU benchmark: LoRA training steps on a LLaVA-1.5-7B-shaped model with random weights, plain peft vs ours.

One batch of 8 sequences x ~680 tokens (576 image tokens), bf16, AdamW on the trainable parameters; each
variant starts from the same weights and batch, so their first losses must agree.

  plain            peft LoRA r 64 on the language model, gradient checkpointing (the usual recipe)
  plain-nockpt     the same without checkpointing (more memory)
  ours             qinstruct's trainer setup (LoRA by pattern + trained projector) with its regional
                   compilation (TrainConfig.compile: each decoder / encoder layer compiled once)
  ours-ckpt        the same with checkpointing

tokens/s counts every token of the batch; MFU = 4 N tokens/s / peak (N the model's parameters: forward 2N plus
input gradients 2N; recomputation not counted), peak 790 TFLOP/s (bf16 matrix rate measured on an H200).
`--tiny` runs everything on a tiny config (a CPU dry run of the logic: no compilation there).

    python -m scripts.bench_train [--tiny] [--steps 6] [--json OUT] [--variants plain ours ...]
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import torch

from qinstruct.models.families import lora_pattern
from qinstruct.models.rating import compile_blocks
from scripts.bench_generate import build_model

PEAK = 790e12
VARIANTS = ("plain", "plain-nockpt", "ours", "ours-ckpt")


def batch_for(model, batch: int, image_tokens: int, text_tokens: int, device) -> dict:
    config = model.config
    generator = torch.Generator().manual_seed(0)
    vocab = config.text_config.vocab_size
    text = torch.randint(3, vocab - 100, (batch, text_tokens), generator=generator)
    image = torch.full((batch, image_tokens), config.image_token_id)
    ids = torch.cat([text[:, :1], image, text[:, 1:]], dim=1)
    labels = ids.clone()
    labels[:, :1 + image_tokens + text_tokens // 2] = -100  # the answer half of the text is supervised
    size = config.vision_config.image_size
    pixels = torch.randn(batch, 3, size, size, generator=generator)
    dtype = next(model.parameters()).dtype
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": torch.ones_like(ids).to(device),
            "pixel_values": pixels.to(device, dtype)}


def prepared(base, variant: str, rank: int, gpu: bool):
    from peft import LoraConfig, get_peft_model

    model = copy.deepcopy(base)
    if variant.startswith("plain"):
        peft = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=lora_pattern(False))
    else:  # our trainer's: the same adapters, and the projector trained in full
        peft = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=lora_pattern(False),
                          modules_to_save=["multi_modal_projector"])
    model = get_peft_model(model, peft)
    if variant in ("plain", "ours-ckpt"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if variant.startswith("ours") and gpu:
        compile_blocks(model)
    model.train()
    return model


def measure(model, inputs, steps: int) -> dict:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    losses, times = [], []
    for _ in range(steps):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
        losses.append(float(loss.detach()))
    warm = times[2:] if len(times) > 3 else times[1:] or times  # the first steps compile and warm the allocator
    seconds = sum(warm) / len(warm)
    return {"first_loss": losses[0], "seconds_per_step": seconds,
            "memory_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    gpu = torch.cuda.is_available()
    base, _, _ = build_model(args.tiny)
    image_tokens = (base.config.vision_config.image_size // base.config.vision_config.patch_size) ** 2
    inputs = batch_for(base, args.batch, image_tokens, 104, next(base.parameters()).device)
    tokens = inputs["input_ids"].numel()
    parameters = sum(p.numel() for p in base.parameters())
    report = {"machine": torch.cuda.get_device_name() if gpu else platform.processor() or platform.machine(),
              "torch": torch.__version__, "tokens_per_step": tokens, "parameters": parameters, "variants": {}}
    for variant in args.variants:
        if gpu:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        try:
            row = measure(prepared(base, variant, args.rank, gpu), inputs, args.steps)
        except torch.cuda.OutOfMemoryError:
            row = {"error": "out of memory"}
        if "seconds_per_step" in row:
            row["tokens_per_s"] = tokens / row["seconds_per_step"]
            row["mfu"] = 4 * parameters * row["tokens_per_s"] / PEAK
        report["variants"][variant] = row
        print(f"train {variant:13s} " + (f"{row['tokens_per_s']:9.0f} tok/s  MFU {row['mfu']:.1%}  first loss "
                                         f"{row['first_loss']:.4f}" if "tokens_per_s" in row else row["error"]),
              flush=True)
    losses = [r["first_loss"] for r in report["variants"].values() if "first_loss" in r]
    report["same_first_loss"] = max(losses) - min(losses) < 0.05 * max(abs(losses[0]), 1) if losses else None
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if report["same_first_loss"] else 1


if __name__ == "__main__":
    sys.exit(main())
