"""Evaluation jobs: run folders with every item, resumed after kill -9 with nothing lost or counted twice,
summaries recomputed from the items, and the report."""
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from qinstruct.demo.config import WorldConfig
from qinstruct.demo.world import build_world
from qinstruct.eval import a1
from qinstruct.eval.a1 import A1Config
from qinstruct.eval.a3 import A3Config
from qinstruct.eval.protocols import run_protocol
from qinstruct.eval.report import ReportConfig, Table, model_labels, write_report
from qinstruct.fileio import read_jsonl
from qinstruct.runs import read_status

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("eval-world") / "world"
    build_world(WorldConfig(out=str(folder), images=12, eval_images=30, seed=5))
    return folder


def test_a1_resumes_after_kill_9_with_nothing_lost_or_doubled(world, tmp_path):
    out = tmp_path / "a1"
    command = [sys.executable, "-m", "qinstruct", "eval", "a1", "--model", "tiny:llava", "--questions",
               str(world / "eval" / "llvisionqa.json"), "--image-root", str(world), "--out", str(out),
               "--batch-size", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(read_jsonl(out / "items.jsonl")) < 20:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = len(read_jsonl(out / "items.jsonl"))
    assert 0 < before < 120 and read_status(out).state == "interrupted"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    records = read_jsonl(out / "items.jsonl")
    keys = Counter((r["protocol"], r["index"]) for r in records)
    assert len(keys) == 120 and set(keys.values()) == {1}  # 60 questions x 2 protocols, each once
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"]["tiny:llava"]["likelihood"]["n"] == 60
    config = A1Config(models=["tiny:llava"], questions=str(world / "eval" / "llvisionqa.json"), out=str(out),
                      image_root=str(world))
    assert a1.summarize(config, a1.units(config), records, "") == summary  # from the items alone


def test_a3_and_the_report(world, tmp_path):
    a3 = run_protocol(A3Config(models=["tiny:llava", "tiny:qwen2-vl"], mos=[f"{world / 'eval' / 'mos.json'}=demo"],
                         image_root=str(world), out=str(tmp_path / "a3"), batch_size=8))
    for result in a3["models"].values():
        assert result["demo"]["n"] == 30 and -1 <= result["demo"]["srcc"] <= 1
    result = run_protocol(A1Config(models=["tiny:llava"], questions=str(world / "eval" / "llvisionqa.json"),
                         image_root=str(world), out=str(tmp_path / "a1"), protocols=["likelihood"], limit=12))
    assert result["models"]["tiny:llava"]["likelihood"]["n"] == 12
    report = write_report(ReportConfig(runs=[str(tmp_path / "a1"), str(tmp_path / "a3")], out=str(tmp_path / "r"),
                                       baseline="tiny:llava"))
    text = report.read_text()
    assert "A1 perception, likelihood protocol" in text and "| tiny:qwen2-vl |" in text and "demo SRCC" in text
    assert "(+" in text or "(-" in text  # +Δ against the baseline
    assert (tmp_path / "r" / "radar.png").stat().st_size > 1000
    assert list((tmp_path / "r").glob("scatter_*demo.png"))


def test_tables_name_local_models_without_their_shared_folders():
    labels = model_labels(["/home/u/ws/models/baseline", "/home/u/ws/runs/mix/model", "liuhaotian/llava-v1.5-7b"])
    assert labels == {"/home/u/ws/models/baseline": "models/baseline", "/home/u/ws/runs/mix/model": "runs/mix/model",
                      "liuhaotian/llava-v1.5-7b": "liuhaotian/llava-v1.5-7b"}
    assert model_labels(["/a/b/one"]) == {"/a/b/one": "one"}
    table = Table("t", ["x"], {"/w/models/a": [0.5], "/w/models/b": [0.7]}).markdown("/w/models/a")
    assert "| a | 0.500 |" in table and "| b | **0.700 (+0.200)** |" in table


def test_an_original_layout_mplug_owl2_checkpoint_is_evaluated_like_any_model(world, tmp_path):
    owl2 = str(ROOT / "tests" / "fixtures" / "owl2_original")
    a3 = run_protocol(A3Config(models=[owl2], mos=[f"{world / 'eval' / 'mos.json'}=demo"], image_root=str(world),
                               out=str(tmp_path / "a3"), batch_size=8, limit=10))
    assert a3["models"][owl2]["demo"]["n"] == 10 and -1 <= a3["models"][owl2]["demo"]["srcc"] <= 1
    items = read_jsonl(tmp_path / "a3" / "items.jsonl")
    assert len(items) == 10 and all(1 <= item["score5"] <= 5 for item in items)
    a1_result = run_protocol(A1Config(models=[owl2], questions=str(world / "eval" / "llvisionqa.json"),
                                      image_root=str(world), out=str(tmp_path / "a1"),
                                      protocols=["letter", "likelihood"], limit=4, max_new_tokens=4))
    assert {p: a1_result["models"][owl2][p]["n"] for p in ("letter", "likelihood")} == {"letter": 4, "likelihood": 4}
    assert not a1_result["failed"]  # every item scored: the likelihood gathered the image placeholders and failed


def test_pair_questions_are_asked_with_both_images_and_reported_apart(world, tmp_path):
    from qinstruct.workspace import world_file

    pairs = world_file(world, "pairs")
    assert len(json.loads(pairs.read_text())) == 40  # the demo world's held-out pair set
    summary = run_protocol(A1Config(models=["tiny:llava", "tiny:idefics3"], questions=str(pairs), image_root=str(world),
                                    out=str(tmp_path / "a1"), protocols=["letter", "likelihood"], limit=6,
                                    max_new_tokens=4))
    llava = summary["models"]["tiny:llava"]
    assert llava["letter"]["pairs_n"] == 6 and llava["likelihood"]["unscored"] == 0
    records = [r for r in read_jsonl(tmp_path / "a1" / "items.jsonl") if r["model"] == "tiny:idefics3"]
    assert records and all("one image per question" in r["error"] for r in records)  # said per item, not a crash
    report = write_report(ReportConfig(runs=[str(tmp_path / "a1")], out=str(tmp_path / "r")))
    assert "| Pairs | Overall |" in report.read_text()
    assert "| tiny:idefics3 |" + " – |" * 9 in report.read_text()  # no answer is no accuracy, not 0.000
    assert "Not scored, left out of the figures: tiny:idefics3 6 of 6 items." in report.read_text()
