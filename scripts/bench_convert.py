#!/usr/bin/env python
"""Benchmark: the GPT conversion job against a local OpenAI-compatible server answering after 200 ms.

Concurrency 32 on 2,000 feedbacks vs concurrency 1 in the same run (on the first 50 feedbacks: at one request at
a time the full set would take ~15 minutes; throughput is what is compared), then a re-run that must be served
entirely from the cache (zero calls).

    .venv/bin/python -m scripts.bench_convert [--feedbacks 2000] [--latency 0.2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from qinstruct.convert.job import ConvertJobConfig, run_convert_job
from tests.convert.test_openai_backend import good_answer
from tests.helpers.openai_server import openai_server


def write_feedbacks(path: Path, count: int) -> None:
    with path.open("w") as handle:
        for i in range(0, count, 2):
            handle.write(json.dumps({"image": f"img/{i}.png", "source": "bench", "mos": 50.0, "feedbacks": [
                f"The duck on the left is heavily blurred (#{i}). Thus, the quality of the image is poor.",
                f"Slight noise in the shadows (#{i}). The quality of the image is fair."]}) + "\n")


def timed_job(config: ConvertJobConfig):
    tic = time.perf_counter()
    report = run_convert_job(config, api_key="sk-bench")
    return time.perf_counter() - tic, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--feedbacks", type=int, default=2000)
    parser.add_argument("--baseline-feedbacks", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, openai_server(good_answer, latency=args.latency) as (url, requests):
        tmp = Path(tmp)
        source = tmp / "pathway.jsonl"
        write_feedbacks(source, args.feedbacks)
        common = {"input": str(source), "backend": "openai", "base_url": url, "model": "gpt-4o-mini"}
        one_s, one = timed_job(ConvertJobConfig(out=str(tmp / "c1"), concurrency=1, limit=args.baseline_feedbacks,
                                                cache_dir=str(tmp / "cache1"), **common))
        many_s, many = timed_job(ConvertJobConfig(out=str(tmp / "c32"), concurrency=32,
                                                  cache_dir=str(tmp / "cache32"), **common))
        calls_before = len(requests)
        cached_s, cached = timed_job(ConvertJobConfig(out=str(tmp / "again"), concurrency=32,
                                                      cache_dir=str(tmp / "cache32"), **common))
        new_calls = len(requests) - calls_before
    rate_one, rate_many = one.converted / one_s, many.converted / many_s
    print(f"# bench_convert: {args.latency * 1000:.0f} ms server latency, 2 calls per feedback")
    print(f"concurrency 1 : {one.converted:5d} feedbacks in {one_s:6.1f} s = {rate_one:6.2f} feedbacks/s")
    print(f"concurrency 32: {many.converted:5d} feedbacks in {many_s:6.1f} s = {rate_many:6.2f} feedbacks/s "
          f"({many.items} items, complete={many.complete})")
    print(f"speed-up: {rate_many / rate_one:.1f}x")
    print(f"cached re-run: {cached.converted} feedbacks in {cached_s:.1f} s with {new_calls} new calls "
          f"({cached.cached_groups} groups from the cache)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
