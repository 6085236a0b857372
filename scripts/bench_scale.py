#!/usr/bin/env python
"""Benchmark: how each data job's time and peak memory grow with the release's size (10 %, 30 %, 100 %).

Generates, seeded, in a temporary folder, files of the Q-Instruct release's size and shape: a Q-Pathway file of
58,000 images with 77,306 feedbacks over 7 sources (the demo world's feedback writer, 40-140 words), 200,000
instruction conversations, and a MOS list of 58,000 images.  Each job runs as its own process
(`python -m qinstruct ...`, as a user runs it); its wall time and peak resident memory (VmHWM, read by that
process as it exits) are printed per job and size, with the cost per 10K items from the 10 % -> 100 %
difference, so a reader sees whether the growth is linear and by how much.

    .venv/bin/python -m scripts.bench_scale                       # every job at 10, 30 and 100 %
    .venv/bin/python -m scripts.bench_scale --jobs convert --code /tmp/before   # another checkout's code

--code runs the jobs with another checkout of the project (the "before" of a change).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IMAGES, FEEDBACKS, CONVERSATIONS = 58_000, 77_306, 200_000
SOURCES = ["koniq", "spaq", "livefb", "livec", "agiqa-3k", "imagerewarddb", "coco-15"]
FRACTIONS = (0.1, 0.3, 1.0)
QUESTIONS = ["Is this image blurry?", "How is the noise level of this image?", "Which part of the image is "
             "overexposed?", "Describe and evaluate the quality of the image.", "Is the lighting sufficient?"]


def feedback_text(rng: np.random.Generator, words: list[str]) -> str:
    """40-140 words of the demo world's low-level vocabulary: what the offline converter parses."""
    count = int(rng.integers(40, 141))
    picked = rng.choice(len(words), size=count)
    return " ".join(words[i] for i in picked).capitalize() + ". Thus the quality of the image is " + \
        ["bad", "poor", "fair", "good", "excellent"][int(rng.integers(5))] + "."


def demo_sentences() -> list[str]:
    """Real feedback sentences of the demo world's writer, cut into words (so the converter finds its terms)."""
    from qinstruct.corrupt import list_corruptions
    from qinstruct.demo.feedback import write_feedbacks

    rng = np.random.default_rng(0)
    words = []
    for i, corruption in enumerate(list_corruptions("common") * 4):
        content = {"kind": "photo", "photo": "x", "subject": "a cup", "category": "object"}
        for _, text in write_feedbacks(rng, content, corruption, 1 + i % 5, 20 + 3 * i % 70, 2):
            words += text.replace(".", " .").split()
    return words


def write_release(folder: Path, fraction: float) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    words = demo_sentences()
    images, feedbacks = round(IMAGES * fraction), round(FEEDBACKS * fraction)
    pathway, instructions, mos = folder / "pathway.jsonl", folder / "instructions.json", folder / "mos.json"
    with pathway.open("w") as handle:
        for i in range(images):
            count = feedbacks // images + (i < feedbacks % images)
            handle.write(json.dumps({"image": f"img/{i}.jpg", "source": SOURCES[i % 7],
                                     "mos": round(float(rng.uniform(0, 100)), 3),
                                     "feedbacks": [feedback_text(rng, words) for _ in range(count)]}) + "\n")
    with instructions.open("w") as handle:
        handle.write("[")
        for i in range(round(CONVERSATIONS * fraction)):
            question = QUESTIONS[i % len(QUESTIONS)]
            answer = feedback_text(rng, words) if "Describe" in question else " ".join(
                words[j] for j in rng.choice(len(words), size=int(rng.integers(3, 25))))
            handle.write(("," if i else "") + json.dumps({"id": f"q{i}", "image": f"img/{i % images}.jpg",
                                                          "conversations": [
                                                              {"from": "human", "value": f"<image>\n{question}"},
                                                              {"from": "gpt", "value": answer}]}) + "\n")
        handle.write("]\n")
    mos.write_text(json.dumps([{"img_path": f"img/{i}.jpg", "gt_score": round(float(rng.uniform(0, 100)), 3)}
                               for i in range(images)]))
    (folder / "img").mkdir(exist_ok=True)
    for i in range(images):  # empty files: the training loader checks that each image exists, never reads it
        (folder / "img" / f"{i}.jpg").touch()
    return {"pathway": pathway, "instructions": instructions, "mos": mos, "items": Path(str(images))}


MIXTURE = ("from qinstruct.train.config import TrainConfig; from qinstruct.train.data import build_mixture; "
           "import sys; m = build_mixture(TrainConfig(model='tiny:llava', output_dir=sys.argv[2], strategy='after', "
           "low_level=[sys.argv[1]])); print(m.summary())")


def job_commands(files: dict[str, Path], out: Path, server: str) -> dict[str, tuple[list[str], str]]:
    """name -> (arguments after `python`, what one item is)."""
    return {
        "convert": (["-m", "qinstruct", "convert", str(files["pathway"]), "--out", str(out / "convert")], "feedback"),
        "convert-openai": (["-m", "qinstruct", "convert", str(files["pathway"]), "--out", str(out / "convert-openai"),
                            "--backend", "openai", "--base-url", server, "--model", "gpt-4o-mini",
                            "--concurrency", "32"], "feedback"),
        "validate": (["-m", "qinstruct", "data", "validate", str(files["instructions"])], "conversation"),
        "export": (["-m", "qinstruct", "data", "export", str(files["instructions"]), "--to", "llamafactory",
                    "--out", str(out / "export")], "conversation"),
        "levels": (["-m", "qinstruct", "data", "levels", str(files["mos"]), "--out", str(out / "levels.json")],
                   "image"),
        "stats": (["-m", "qinstruct", "stats", "report", str(files["pathway"]), "--out", str(out / "stats")],
                  "image"),
        "mixture": (["-c", MIXTURE, str(files["instructions"]), str(out / "train")], "conversation"),
    }


def items_of(job: str, fraction: float) -> int:
    unit = {"convert": FEEDBACKS, "convert-openai": FEEDBACKS, "validate": CONVERSATIONS, "export": CONVERSATIONS,
            "mixture": CONVERSATIONS}
    return round(unit.get(job, IMAGES) * fraction)


# The job's own peak, read by the job's process at exit: the kernel's ru_maxrss of a child also counts the
# parent's memory at the fork (a forked or vforked child's maximum is kept across exec), which here would be this
# script's, its test server and request log included.
PEAK_WRAPPER = """
import atexit, os, runpy, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            os.write(2, ("\\npeak-rss-kb " + line.split()[1] + "\\n").encode())
atexit.register(peak)
kind, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
if kind == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<job>", "exec"), {"__name__": "__main__"})
"""


def run_measured(arguments: list[str], env: dict[str, str], code: Path) -> tuple[float, float, int, str]:
    """Wall seconds, the job's peak resident memory in MB, exit status, last line of its output.  The process
    runs in the checkout `code` (python -m and -c put the working folder first on the import path)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *arguments], env=env, cwd=code, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    peaks = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-rss-kb ")]
    lines = [line for line in (done.stdout + done.stderr).splitlines()
             if line.strip() and not line.startswith("peak-rss-kb ")]
    return seconds, int(peaks[-1]) / 1024 if peaks else float("nan"), done.returncode, lines[-1][:100] if lines else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--jobs", nargs="+", default=["convert", "validate", "export", "levels", "stats", "mixture"],
                        help="convert-openai: the conversion through a local OpenAI-compatible server (the tests' "
                        "FastAPI server, in this process, answering at once), two requests per feedback")
    parser.add_argument("--fractions", nargs="+", type=float, default=list(FRACTIONS))
    parser.add_argument("--code", help="run the jobs with this checkout of the project (default: this one)")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "OPENAI_API_KEY": "sk-bench"}
    code = Path(args.code).resolve() if args.code else Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = str(code)
    rows = []
    with contextlib.ExitStack() as stack:
        temporary = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scale-"))
        server = ""
        if "convert-openai" in args.jobs:
            from tests.convert.test_openai_backend import good_answer
            from tests.helpers.openai_server import openai_server

            server = stack.enter_context(openai_server(good_answer))[0]
        base = run_measured(["-c", "import qinstruct.cli"], env, code)
        print(f"python + qinstruct imported: {base[1]:.0f} MB", flush=True)
        for fraction in args.fractions:
            folder = Path(temporary) / f"{fraction:g}"
            folder.mkdir()
            files = write_release(folder, fraction)
            commands = job_commands(files, folder / "out", server)
            for job in args.jobs:
                seconds, peak, status, last = run_measured(commands[job][0], env, code)
                rows.append((job, fraction, items_of(job, fraction), commands[job][1], seconds, peak, status))
                print(f"{job:9s} {fraction:5.0%} {items_of(job, fraction):>8,} {commands[job][1]}s  "
                      f"{seconds:7.1f} s  {peak:7.0f} MB  exit {status}  {last}", flush=True)
    print("\n| job | size | items | time (s) | peak memory (MB) |\n|---|---|---|---|---|")
    for job, fraction, items, unit, seconds, peak, status in rows:
        flag = "" if status == 0 else f" (exit {status})"
        print(f"| {job} | {fraction:.0%} | {items:,} {unit}s | {seconds:.1f}{flag} | {peak:.0f} |")
    print("\ngrowth from the smallest to the largest size, per 10K items:")
    for job in args.jobs:
        mine = [row for row in rows if row[0] == job]
        if len(mine) >= 2 and mine[-1][2] > mine[0][2]:
            per = 10_000 / (mine[-1][2] - mine[0][2])
            print(f"  {job}: +{(mine[-1][4] - mine[0][4]) * per:.1f} s and +{(mine[-1][5] - mine[0][5]) * per:.0f} MB "
                  f"per 10K {mine[0][3]}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
