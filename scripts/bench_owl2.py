#!/usr/bin/env python
"""GPU benchmark: a 7B-shaped mPLUG-Owl2 at 448 px (the native port, random weights, bf16) next to a
LLaVA-1.5-7B-shaped model in the same run, both through the studio's paths:

  rate   images/s of next-token rating at batch 32 (rating_forward: no cache, last position only)
  chat   tokens/s of a greedy answer at batch 1 (generate(), 128 new tokens, KV cache)

mPLUG-Owl2 reads 65 image tokens (64 queries + end) from a 1 025-token ViT at 448 px; LLaVA-1.5 576 from a
577-token ViT at 336 px.  Random weights give honest speeds.  `--tiny` runs the same code on tiny configs (a CPU
dry run: its numbers mean nothing).

    python -m scripts.bench_owl2 [--tiny] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch
import transformers

from qinstruct.models.rating import rating_forward
from scripts.bench_generate import build_model as build_llava
from scripts.bench_generate import instantiate, make_inputs, sync, timed

TEXT_TOKENS, NEW_TOKENS, RATE_BATCH = 25, 128, 32


def build_owl2(tiny: bool, device, dtype):
    from qinstruct.models.owl2 import MplugOwl2Config, MplugOwl2ForConditionalGeneration

    if tiny:
        config = MplugOwl2Config(visual_config={
            "visual_model": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                 image_size=56, patch_size=14),
            "visual_abstractor": dict(num_learnable_queries=4, hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=48, encoder_hidden_size=32,
                                      grid_size=4)},
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, vocab_size=1000)
    else:  # mPLUG-Owl2-7B / One-Align / Q-Instruct-Owl2: LLaMA-2-7B, ViT-L/14 at 448, 64 queries
        config = MplugOwl2Config(rms_norm_eps=1e-5, max_position_embeddings=4096)
    return instantiate(MplugOwl2ForConditionalGeneration, config, device, dtype)


def owl2_inputs(model, batch: int, device, dtype):
    config = model.config
    generator = torch.Generator().manual_seed(0)
    text = torch.randint(3, min(config.vocab_size, 32000) - 1, (batch, TEXT_TOKENS), generator=generator)
    image = torch.full((batch, config.image_tokens), config.image_placeholder_id)
    ids = torch.cat([text[:, :5], image, text[:, 5:]], dim=1).to(device)
    size = config.vision.image_size
    pixels = torch.randn(batch, 3, size, size, generator=generator).to(device, dtype)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": pixels}


def measure(name: str, model, inputs_for, report: dict) -> None:
    batch = inputs_for(RATE_BATCH)
    with torch.inference_mode():
        rating_forward(model, dict(batch))  # warm-up
        seconds, _ = timed(lambda: rating_forward(model, dict(batch)))
        report[f"rate {name}"] = {"images_per_s": RATE_BATCH / seconds, "batch": RATE_BATCH}
        one = inputs_for(1)
        model.generate(**one, max_new_tokens=8, do_sample=False)  # warm-up
        seconds, out = timed(lambda: model.generate(**one, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                                                    do_sample=False), repeats=2)
        report[f"chat {name}"] = {"tokens_per_s": (out.shape[1] - one["input_ids"].shape[1]) / seconds,
                                  "prompt_tokens": one["input_ids"].shape[1]}
    print(f"rate {name}: {report[f'rate {name}']['images_per_s']:.1f} img/s at batch {RATE_BATCH} · "
          f"chat {name}: {report[f'chat {name}']['tokens_per_s']:.1f} tok/s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    report: dict = {"machine": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor()
                    or platform.machine(), "torch": torch.__version__,
                    "transformers": transformers.__version__, "dtype": "bf16 on a GPU, else fp32"}
    llava, device, dtype = build_llava(args.tiny)

    def llava_inputs(batch, model=llava):  # bound now: `llava` is deleted below, to free its memory
        return make_inputs(model, batch, device, dtype, llava_image_tokens(model))
    measure("llava-1.5-7b", llava, llava_inputs, report)
    del llava
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    owl2 = build_owl2(args.tiny, device, dtype)
    measure("mplug-owl2-7b", owl2, lambda b: owl2_inputs(owl2, b, device, dtype), report)
    sync()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


def llava_image_tokens(model) -> int:
    vision = model.config.vision_config
    return (vision.image_size // vision.patch_size) ** 2


if __name__ == "__main__":
    sys.exit(main())
