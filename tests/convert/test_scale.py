"""The conversion at scale: a few thousand feedbacks converted under a memory cap that holding the items (the
old way: every finished feedback and every item in memory, written at the end) breaks; the result equals an
uncapped run's, and a killed capped run resumes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FEEDBACKS = 3000
CAP_MB = 60  # over the address space the process holds before the job starts

CAPPED_JOB = """
import resource, sys
from qinstruct.convert.job import ConvertJobConfig, run_convert_job
def address_space():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
limit = address_space() + int(sys.argv[3]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
report = run_convert_job(ConvertJobConfig(input=sys.argv[1], out=sys.argv[2]))
print(report.items, report.output)
"""


def release_like(path: Path, feedbacks: int) -> Path:
    """Feedbacks of 40-140 words in the converter's vocabulary, four per image, seeded."""
    import numpy as np

    rng = np.random.default_rng(0)
    words = ("the image is slightly blurry and the noise in the dark shadows is visible while colours look "
             "natural but the sky is overexposed so details of the clouds are lost the building on the left is "
             "sharp and clear with good contrast").split()
    with path.open("w") as handle:
        for image in range(feedbacks // 4):
            texts = [" ".join(words[i] for i in rng.integers(len(words), size=int(rng.integers(40, 141))))
                     + ". Thus, the quality of the image is " + ("poor", "fair", "good")[(image + k) % 3] + "."
                     for k in range(4)]
            handle.write(json.dumps({"image": f"img/{image}.jpg", "source": "test", "mos": 50.0,
                                     "feedbacks": texts}) + "\n")
    return path


def convert_capped(source: Path, out: Path, cap_mb: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MALLOC_ARENA_MAX": "1"}  # one arena: no 64 MB reservations
    return subprocess.run([sys.executable, "-c", CAPPED_JOB, str(source), str(out), str(cap_mb)], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the address space from /proc")
def test_thousands_of_feedbacks_convert_under_a_memory_cap(tmp_path):
    source = release_like(tmp_path / "pathway.jsonl", FEEDBACKS)
    done = convert_capped(source, tmp_path / "capped", CAP_MB)
    assert done.returncode == 0, done.stderr[-2000:]
    count = int(done.stdout.split()[0])
    items = json.loads((tmp_path / "capped" / "items.json").read_text())
    assert len(items) == count > 5 * FEEDBACKS
    report = json.loads((tmp_path / "capped" / "report.json").read_text())
    assert report["feedbacks"] == FEEDBACKS and report["items"] == count
    assert sum(report["by_type"].values()) == count
    lines = (tmp_path / "capped" / "partial.jsonl").read_text().splitlines()
    # items.json holds the feedbacks' items in the file's order, exactly as partial.jsonl recorded them
    by_id = {json.loads(line)["feedback_id"]: json.loads(line)["items"] for line in lines}
    assert items == [item for image in range(FEEDBACKS // 4) for k in range(4)
                     for item in by_id[f"img/{image}.jpg#{k}"]]


def test_a_feedback_file_that_grows_during_the_conversion_stops_it_and_the_next_run_finishes(tmp_path):
    from qinstruct.convert.job import ConvertJobConfig, run_convert_job
    from qinstruct.data.loaders import DataError

    source = release_like(tmp_path / "pathway.jsonl", 400)
    extra = release_like(tmp_path / "more.jsonl", 8).read_text().replace("img/", "more/")

    def append_once(done, total):
        if done == 50 and "more/" not in source.read_text():
            with source.open("a") as handle:
                handle.write(extra)

    config = ConvertJobConfig(input=str(source), out=str(tmp_path / "out"), concurrency=1)
    with pytest.raises(DataError, match="pathway.jsonl: changed (while it was read|during the conversion)"):
        run_convert_job(config, progress=append_once)
    assert not (tmp_path / "out" / "items.json").exists()
    kept = len((tmp_path / "out" / "partial.jsonl").read_text().splitlines())
    assert kept >= 50
    report = run_convert_job(config)
    assert report.complete and report.feedbacks == 408 and report.already_done == kept
