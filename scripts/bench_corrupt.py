#!/usr/bin/env python
"""Benchmark: the 15 x 5 corruption grid on a 512 x 512 photo, ours vs imagecorruptions-imaug, same run.

For every corruption and severity both implementations run on the same image with the same random draws
(the reference seeded through np.random.seed / seed=, ours through its seed argument); the script reports the
best of --repeats timings per cell, summed per corruption, the speed ratio, and the largest pixel difference.
Both sides are warmed up first (this hides the reference's numba JIT, reported separately).

    .venv/bin/python -m scripts.bench_corrupt [--repeats 3] [--image astronaut]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import imagecorruptions
import numpy as np

from qinstruct.corrupt import SEVERITIES, corrupt_rgb8, list_corruptions
from qinstruct.photos import demo_photo

SEEDED_BY_ARGUMENT = {"impulse_noise", "glass_blur"}


def reference(image: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    np.random.seed(seed)
    kwargs = {"seed": seed} if name in SEEDED_BY_ARGUMENT else {}
    return imagecorruptions.corrupt(image, severity, name, **kwargs)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def best_of(repeats: int, fn) -> tuple[float, np.ndarray]:
    best, out = float("inf"), None
    for _ in range(repeats):
        tic = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - tic)
    return best * 1000, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image", default="astronaut")
    args = parser.parse_args()
    image = np.asarray(demo_photo(args.image, 512).convert("RGB").resize((512, 512)))

    tic = time.perf_counter()
    reference(image, "glass_blur", 1, 0)
    jit_ms = (time.perf_counter() - tic) * 1000
    for name in list_corruptions("common"):  # warm caches and imports on both sides
        reference(image, name, 1, 0)
        corrupt_rgb8(image, name, 1, 0)

    print(f"# bench_corrupt: 15 x 5 grid on {args.image} 512x512, best of {args.repeats}")
    print(f"machine: {cpu_name()} x {os.cpu_count()} cores, {platform.system()}, Python "
          f"{platform.python_version()}, numpy {np.__version__}")
    print(f"reference glass_blur first call (numba JIT): {jit_ms:.0f} ms (not counted below)\n")
    print("| corruption | reference ms | ours ms | speed-up | max abs diff |")
    print("|---|---:|---:|---:|---:|")
    total_ref = total_ours = 0.0
    for name in list_corruptions("common"):
        ref_ms = ours_ms = 0.0
        worst = 0
        for severity in SEVERITIES:
            seed = 100 + severity
            t_ref, ref = best_of(args.repeats, lambda: reference(image, name, severity, seed))  # noqa: B023 - run now
            t_ours, ours = best_of(args.repeats, lambda: corrupt_rgb8(image, name, severity, seed))  # noqa: B023
            ref_ms, ours_ms = ref_ms + t_ref, ours_ms + t_ours
            diff = np.abs(ref.astype(int) - ours.astype(int))
            if name == "zoom_blur":  # the reference's zero last row/column artifact is excluded (see tests)
                diff = diff[:-1, :-1]
            worst = max(worst, int(diff.max()))
        total_ref, total_ours = total_ref + ref_ms, total_ours + ours_ms
        print(f"| {name} | {ref_ms:.1f} | {ours_ms:.1f} | {ref_ms / ours_ms:.1f}x | {worst} |")
    print(f"| **total (75 cells)** | **{total_ref:.0f}** | **{total_ours:.0f}** | "
          f"**{total_ref / total_ours:.1f}x** | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
