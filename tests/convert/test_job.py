"""`qinstruct convert` as a job: offline on the demo world, resumable after kill -9, a server killed mid-job,
dry-run cost estimates, cached re-runs."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from qinstruct.cli import main
from qinstruct.convert.job import ConvertJobConfig, estimate_cost, run_convert_job
from qinstruct.demo.world import WorldConfig, build_world

from ..helpers.openai_server import openai_server
from .test_openai_backend import good_answer

ROOT = Path(__file__).resolve().parents[2]


def pathway_file(tmp_path, records: int = 40) -> Path:
    path = tmp_path / "pathway.jsonl"
    texts = ["The duck on the left is heavily blurred. Thus, the quality of the image is poor.",
             "The image is sharp with natural colours and no noise. Overall, the quality of the image is good.",
             "Slight noise in the shadows and mild blur. The quality of the image is fair."]
    path.write_text("".join(json.dumps({"image": f"img/{i}.png", "source": "test", "mos": 50.0,
                                        "feedbacks": [f"{t} (#{i})" for t in texts]}) + "\n"
                            for i in range(records)))
    return path


def test_offline_on_the_demo_world(tmp_path):
    world = tmp_path / "world"
    build_world(WorldConfig(out=str(world), images=30, eval_images=5, seed=2))
    run = tmp_path / "out"
    out = run / "items.json"
    assert main(["convert", str(world / "pathway.jsonl"), "--out", str(run), "--export", "llamafactory"]) == 0
    items = json.loads(out.read_text())
    report = json.loads((run / "report.json").read_text())
    assert report["feedbacks"] == 90 and report["items"] == len(items) and report["calls"] == 0
    assert {i["type"] for i in items} == {"pathway", "yes-no", "what", "how", "context", "extended"}
    assert len({i["id"] for i in items}) == len(items)
    assert (run / "export-llamafactory" / "dataset_info.json").is_file()
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "done" and status["kind"] == "convert" and status["summary"]["items"] == len(items)
    assert (run / "config.yaml").read_text().startswith("# qinstruct convert --config")
    assert main(["convert", str(world / "pathway.jsonl"), "--out", str(run)]) == 0  # nothing left to do
    assert json.loads(out.read_text()) == items


def test_two_records_of_one_image_keep_every_feedback(tmp_path):
    source = tmp_path / "twice.jsonl"
    record = {"image": "img/1.png", "source": "test", "mos": 50.0}
    source.write_text(json.dumps({**record, "feedbacks": ["The image is sharp. The quality is good."]}) + "\n"
                      + json.dumps({**record, "feedbacks": ["Heavy noise everywhere. The quality is poor."]}) + "\n")
    report = run_convert_job(ConvertJobConfig(input=str(source), out=str(tmp_path / "run")))
    items = json.loads((tmp_path / "run" / "items.json").read_text())
    assert report.feedbacks == 2 and {i["provenance"]["feedback_id"] for i in items} == {"img/1.png#0",
                                                                                          "img/1.png@1#0"}


def test_bad_limits_and_out_file_are_refused(tmp_path, capsys):
    source = pathway_file(tmp_path, records=2)
    assert main(["convert", str(source), "--out", str(tmp_path / "run"), "--limit", "-1"]) == 2
    assert "--limit: expected a value >= 0 and <= 100000000, got -1" in capsys.readouterr().err
    assert main(["convert", str(source), "--out", str(tmp_path / "items.json")]) == 2
    assert "out is a folder" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"image": 3}\n')
    assert main(["convert", str(broken), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "broken.jsonl" in err and "Traceback" not in err


def test_resume_after_kill_9(tmp_path):
    source = pathway_file(tmp_path, records=50)
    run = tmp_path / "run"
    out = run / "items.json"
    with openai_server(good_answer, latency=0.03) as (url, requests):
        command = [sys.executable, "-m", "qinstruct", "convert", str(source), "--out", str(run), "--backend",
                   "openai", "--base-url", url, "--concurrency", "4"]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-test"}
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        partial = run / "partial.jsonl"
        deadline = time.time() + 60
        while time.time() < deadline and (not partial.exists() or partial.read_text().count("\n") < 30):
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        written = partial.read_text().count("\n")
        assert 0 < written < 150 and not out.exists()
        assert json.loads((run / "status.json").read_text())["state"] == "running"  # as the killed job left it
        from qinstruct.runs import read_status
        assert read_status(run).state == "interrupted"  # nobody holds the lock any more
        calls_before = len(requests)
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stderr
        # only unfinished feedbacks cost calls; responses cached before the kill are reused
        assert len(requests) - calls_before <= 2 * (150 - written)
    items = json.loads(out.read_text())
    feedbacks = {i["provenance"]["feedback_id"] for i in items}
    assert len(feedbacks) == 150 and len({i["id"] for i in items}) == len(items)
    lines = [json.loads(line) for line in partial.read_text().splitlines()]
    assert len(lines) == len({line["feedback_id"] for line in lines}) == 150


def test_server_killed_mid_job_then_resumed(tmp_path):
    source = pathway_file(tmp_path, records=30)
    out = tmp_path / "run" / "items.json"
    config = ConvertJobConfig(input=str(source), out=str(out.parent), backend="openai", concurrency=16, max_attempts=2,
                              timeout=2.0)
    with openai_server(good_answer, latency=0.02) as (url, requests):
        config.base_url = url
        # stop answering part-way: the context manager's exit shuts the server down while the job runs
        result = {}
        job = threading.Thread(target=lambda: result.update(report=run_convert_job(config, api_key="k")))
        job.start()
        while len(requests) < 20:
            time.sleep(0.01)
    job.join(timeout=120)
    report = result["report"]
    assert report.failed and not report.complete and not out.exists()
    assert all("gave up" in reason for _, reason in report.failed)
    with openai_server(good_answer) as (url, _):
        config.base_url = url
        again = run_convert_job(config, api_key="k")
    assert again.complete and again.already_done + again.converted == 90
    assert len({i["id"] for i in json.loads(out.read_text())}) == again.items


def test_dry_run_estimate_and_cached_rerun(tmp_path, capsys):
    source = pathway_file(tmp_path, records=10)
    out = tmp_path / "first" / "items.json"
    with openai_server(good_answer) as (url, requests):
        assert main(["convert", str(source), "--out", str(out.parent), "--backend", "openai", "--model", "gpt-4o",
                     "--base-url", url, "--dry-run"]) == 0
        err = capsys.readouterr().err
        assert "30 feedback(s)" in err and "60 call(s) to make (0 cached)" in err and "$" in err
        assert requests == []  # a dry run calls nothing
        config = ConvertJobConfig(input=str(source), out=str(out.parent), backend="openai", model="gpt-4o",
                                  base_url=url)
        first = run_convert_job(config, api_key="k")
        assert first.complete and first.calls == 60
        second_out = tmp_path / "again" / "items.json"
        config2 = ConvertJobConfig(input=str(source), out=str(second_out.parent), backend="openai", model="gpt-4o",
                                   base_url=url, cache_dir=str(config.cache_folder))
        assert estimate_cost(config2).cached_calls == 60
        second = run_convert_job(config2, api_key="k")
        assert second.complete and second.calls == 0 and len(requests) == 60
    assert json.loads(second_out.read_text()) == json.loads(out.read_text())
