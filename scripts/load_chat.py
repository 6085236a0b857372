"""Concurrent sessions chatting and rating on the demo models: all answered, no cross-talk, other tabs responsive.

    .venv/bin/python -m scripts.load_chat [--sessions 8] [--seconds 120] [--url URL] [--json out.json]

Without --url it starts a studio (`python -m app`, its own process, a fresh workspace with a small demo world).
Each session is its own gradio_client, asking questions that carry its number ("[s3] Is this image clear?"),
rating, and checking that every turn it sees is its own.  Meanwhile one more client keeps using another tab
(the Corrupt tab's demo photo), which must keep answering while the model queue is busy.  Prints one line per
kind of request with count, p50 and p95 latency; these are the figures RELIABILITY.md records.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1"), ("GRADIO_ANALYTICS_ENABLED", "False")):
    os.environ.setdefault(name, value)

from tests.helpers.studio import studio_process  # noqa: E402

QUESTIONS = ["Is this image clear?", "Describe and evaluate the quality of the image.", "Is there any noise?"]
PHOTOS = ["chelsea", "coffee", "rocket", "astronaut", "motorcycle"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def said(chatbot: dict, role: str) -> list[str]:
    out = []
    for message in chatbot["value"]:
        if message["role"] == role:
            content = message["content"]
            out.append(content if isinstance(content, str) else "".join(p.get("text", "") for p in content))
    return out


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {}
        self.failures: list[str] = []
        self.cross_talk = 0

    def timed(self, kind: str, call):
        started = time.perf_counter()
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported
            with self.lock:
                self.failures.append(f"{kind}: {str(error)[:200]}")
            return None
        with self.lock:
            self.latency.setdefault(kind, []).append(time.perf_counter() - started)
        return result


def session(index: int, url: str, deadline: float, record: Recorder, photo_files: dict[str, str]) -> None:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    rng = random.Random(index)
    tag = f"[s{index}]"
    while time.time() < deadline:
        image = handle_file(photo_files[rng.choice(PHOTOS)])
        if rng.random() < 0.7:
            result = record.timed("chat turn", lambda: client.predict(
                image=image,  # noqa: B023 - the lambda is called at once
                text=f"{tag} {rng.choice(QUESTIONS)}", max_tokens=32, api_key="", api_name="/chat_send"))
            if result is not None:
                users = said(result[0], "user") + said(result[1], "user")
                if not users or any(not text.startswith(tag) for text in users):
                    with record.lock:
                        record.cross_talk += 1
        else:
            record.timed("rating", lambda: client.predict(image=image, api_key="", api_name="/chat_rate"))  # noqa: B023


def other_tab(url: str, deadline: float, record: Recorder) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    while time.time() < deadline:
        record.timed("other tab (demo photo)", lambda: client.predict(random.choice(PHOTOS), api_name="/demo_photo"))
        time.sleep(0.5)


@contextmanager
def studio():
    with tempfile.TemporaryDirectory(prefix="load-") as tmp, studio_process(Path(tmp) / "workspace") as (url, _):
        yield url


def run(url: str, sessions: int, seconds: float) -> dict:
    from qinstruct.photos import demo_photo

    with tempfile.TemporaryDirectory(prefix="photos-") as folder:
        photo_files = {}
        for name in PHOTOS:
            path = Path(folder) / f"{name}.png"
            demo_photo(name, 256).save(path)
            photo_files[name] = str(path)
        record = Recorder()
        deadline = time.time() + seconds
        threads = [threading.Thread(target=session, args=(i, url, deadline, record, photo_files))
                   for i in range(sessions)]
        threads.append(threading.Thread(target=other_tab, args=(url, deadline, record)))
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 600)
        wall = time.perf_counter() - started
    rows = {kind: {"count": len(values), "p50_s": round(percentile(values, 50), 3),
                   "p95_s": round(percentile(values, 95), 3)} for kind, values in sorted(record.latency.items())}
    return {"sessions": sessions, "seconds": round(wall, 1), "requests": rows, "failures": record.failures,
            "cross_talk": record.cross_talk}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--url", help="a running studio (default: start one)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    if args.url:
        result = run(args.url, args.sessions, args.seconds)
    else:
        with studio() as url:
            result = run(url, args.sessions, args.seconds)
    for kind, row in result["requests"].items():
        print(f"{kind:24s} {row['count']:5d} requests  p50 {row['p50_s']:.2f} s  p95 {row['p95_s']:.2f} s")
    print(f"{result['sessions']} sessions for {result['seconds']:.0f} s: {len(result['failures'])} failed, "
          f"{result['cross_talk']} with another session's turns")
    for failure in result["failures"][:10]:
        print(f"  failed: {failure}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0 if not result["failures"] and not result["cross_talk"] else 1


if __name__ == "__main__":
    sys.exit(main())
