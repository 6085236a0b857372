#!/usr/bin/env python
"""Benchmark: evaluation on the demo's held-out sets, batched (ours) vs one item at a time (plain), in one run.

  A3  `qinstruct eval a3` on the demo world's held-out MOS list with the demo's base model, --batch-size 1
      (plain: one image per forward pass) against --batch-size B; whole jobs (model load, images, rating,
      correlations, run folder), alternated, best of --repeats.  Both must give the same SRCC.
  A1  the likelihood protocol: the options of a question scored in one batch (ours) against one forward pass
      per option (plain), over the first --questions held-out questions; both must choose the same options.

    .venv/bin/python -m scripts.bench_eval [--batch-size 16] [--repeats 2] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from qinstruct.data.loaders import load_llvisionqa
from qinstruct.demo.config import WorldConfig
from qinstruct.demo.world import build_world
from qinstruct.eval.a3 import A3Config
from qinstruct.eval.protocols import run_protocol
from qinstruct.images import load_rgb
from qinstruct.models.families import save_tiny_pair
from qinstruct.models.loading import load_model
from qinstruct.models.types import LoadOptions
from scripts.bench_corrupt import cpu_name


def time_a3(root: Path, model: str, world: Path, batch_size: int, attempt: int) -> tuple[float, dict]:
    config = A3Config(models=[model], mos=[f"{world / 'eval' / 'mos.json'}=demo"], image_root=str(world),
                      out=str(root / f"a3-b{batch_size}-{attempt}"), batch_size=batch_size)
    started = time.perf_counter()
    summary = run_protocol(config)
    return time.perf_counter() - started, summary["models"][model]["demo"]


def time_a1(model, questions, world: Path) -> dict:
    images = [load_rgb(world / q.img_path) for q in questions]
    model.option_losses(questions[0].question, questions[0].candidates, images[0])  # warm-up
    results = {}
    for variant in ("plain", "ours"):
        started, chosen = time.perf_counter(), []
        for question, image in zip(questions, images):
            if variant == "ours":
                whole, _ = model.option_losses(question.question, question.candidates, image)
            else:
                whole = [model.option_losses(question.question, [option], image)[0][0]
                         for option in question.candidates]
            chosen.append(min(range(len(whole)), key=whole.__getitem__))
        results[variant] = {"seconds": time.perf_counter() - started, "chosen": chosen}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        world = root / "world"
        build_world(WorldConfig(out=str(world), images=40, eval_images=400, seed=1))
        base, _ = save_tiny_pair(root / "models")
        model = str(root / base)
        timings = {1: [], args.batch_size: []}
        for attempt in range(args.repeats):
            for batch_size in timings:
                seconds, result = time_a3(root, model, world, batch_size, attempt)
                timings[batch_size].append((seconds, result))
        (plain, plain_result), (ours, ours_result) = (min(timings[b], key=lambda t: t[0]) for b in timings)
        assert abs(plain_result["srcc"] - ours_result["srcc"]) < 1e-4, (plain_result, ours_result)
        questions = load_llvisionqa(world / "eval" / "llvisionqa.json").items[:args.questions]
        a1 = time_a1(load_model(model, LoadOptions()), questions, world)
        assert a1["plain"]["chosen"] == a1["ours"]["chosen"]
    n = ours_result["n"]
    figures = {
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, {platform.platform()}",
        "a3": {"images": n, "batch_size": args.batch_size, "plain_s": round(plain, 2), "ours_s": round(ours, 2),
               "plain_img_per_s": round(n / plain, 1), "ours_img_per_s": round(n / ours, 1),
               "speedup": round(plain / ours, 2), "srcc": round(ours_result["srcc"], 4)},
        "a1_likelihood": {"questions": len(questions), "plain_s": round(a1["plain"]["seconds"], 2),
                          "ours_s": round(a1["ours"]["seconds"], 2),
                          "speedup": round(a1["plain"]["seconds"] / a1["ours"]["seconds"], 2)},
    }
    a3, l1 = figures["a3"], figures["a1_likelihood"]
    print(f"machine: {figures['machine']}")
    print(f"A3, {n} held-out images, whole job: plain (1 per pass) {a3['plain_s']} s = {a3['plain_img_per_s']} img/s;"
          f" ours (batch {args.batch_size}) {a3['ours_s']} s = {a3['ours_img_per_s']} img/s; {a3['speedup']}x;"
          f" same SRCC {a3['srcc']}")
    print(f"A1 likelihood, {l1['questions']} questions: plain (1 option per pass) {l1['plain_s']} s; ours (options"
          f" batched) {l1['ours_s']} s; {l1['speedup']}x; same choices")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
