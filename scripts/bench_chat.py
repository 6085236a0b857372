#!/usr/bin/env python
"""CPU benchmark of a Chat turn on a tiny random pair (a tiny LLaVA and a LoRA on it, served as one batch):
transformers' generate() with peft's mixed-adapter batch vs our decoder (fused step, run eagerly on a CPU), in
the same process on the same loaded pair, best of 5 turns each.  Also one side alone.

    .venv/bin/python -m scripts.bench_chat [--tokens 256]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qinstruct.models.chat import GenerationOptions, Turn  # noqa: E402
from qinstruct.models.families import save_tiny_pair  # noqa: E402
from qinstruct.models.pair import stream_pair  # noqa: E402
from qinstruct.models.pool import ModelPool  # noqa: E402
from qinstruct.photos import demo_photo  # noqa: E402

QUESTION = [Turn("Describe and evaluate the quality of the image.")]


def best_of(fn, repeats: int = 5) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        tic = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - tic)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=256, help="max new tokens per answer (the tab's default)")
    args = parser.parse_args()
    options = GenerationOptions(max_new_tokens=args.tokens)
    image = demo_photo("chelsea")
    with tempfile.TemporaryDirectory() as folder:
        left_spec, right_spec = save_tiny_pair(Path(folder) / "models")
        pair = ModelPool().pair(str(Path(folder) / left_spec), str(Path(folder) / right_spec))

        def both():
            answers = ["", ""]
            for left, right in stream_pair(pair, (QUESTION, QUESTION), image, options):
                answers[0] += left
                answers[1] += right
            return answers

        def one():
            return "".join(pair.left.stream(QUESTION, image, options))

        rows = []
        for label, turn in (("both sides (one batch of 2)", both), ("baseline alone", one)):
            seconds = {}
            for mode in ("never", "auto"):
                os.environ["QINSTRUCT_FASTGEN"] = mode
                turn()  # warm-up (our decoder's first use builds it)
                seconds[mode], answers = best_of(turn)
                seconds[mode + "_answers"] = answers
            same = seconds["never_answers"] == seconds["auto_answers"]
            rows.append((label, seconds["never"], seconds["auto"], same))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"max new tokens {args.tokens}, greedy")
    print("| turn | generate() s | ours s | speed-up | same answers |")
    print("|---|---:|---:|---:|---|")
    for label, plain, ours, same in rows:
        print(f"| {label} | {plain:.3f} | {ours:.3f} | {plain / ours:.2f}x | {'yes' if same else 'NO'} |")
    return 0 if all(row[3] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
