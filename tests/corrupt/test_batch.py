"""The batch job and its CLI: manifest, resume after kill -9, bad files, random assignment."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qinstruct.cli import main
from qinstruct.config import ConfigError
from qinstruct.corrupt import corrupt, list_corruptions
from qinstruct.corrupt.batch import CorruptJobConfig, assign_random, read_manifest, run_corrupt_job

ROOT = Path(__file__).resolve().parents[2]


def make_images(folder: Path, count: int, size: int = 48) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        sub = folder / ("nested" if i % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def manifest_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_manifest_records_everything(tmp_path):
    make_images(tmp_path / "src", 3)
    config = CorruptJobConfig(source=str(tmp_path / "src"), out=str(tmp_path / "out"),
                              corruptions=["fog", "pixelate"], severities=[1, 4])
    summary = run_corrupt_job(config)
    assert summary.ok and summary.written == 12
    records = manifest_lines(tmp_path / "out")
    assert len(records) == 12
    first = records[0]
    assert set(first) == {"source", "source_rel", "sha256", "corruption", "severity", "seed", "output"}
    for record in records:
        output = tmp_path / "out" / record["output"]
        assert output.is_file()
        source = Image.open(record["source"])
        expected = corrupt(source, record["corruption"], record["severity"], record["seed"])
        assert np.array_equal(np.asarray(Image.open(output)), np.asarray(expected))
    assert any(r["source_rel"].startswith("nested/") for r in records)
    assert (tmp_path / "out" / "nested").is_dir()  # the folder structure is kept


def test_rerun_skips_finished_and_never_duplicates(tmp_path):
    make_images(tmp_path / "src", 2)
    config = CorruptJobConfig(source=str(tmp_path / "src"), out=str(tmp_path / "out"), corruptions=["snow"])
    assert run_corrupt_job(config).written == 2
    again = run_corrupt_job(config)
    assert again.written == 0 and again.skipped_done == 2
    assert len(manifest_lines(tmp_path / "out")) == 2


def test_torn_last_line_is_repaired(tmp_path):
    make_images(tmp_path / "src", 2)
    config = CorruptJobConfig(source=str(tmp_path / "src"), out=str(tmp_path / "out"), corruptions=["fog"])
    run_corrupt_job(config)
    manifest = tmp_path / "out" / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text(lines[0] + lines[1][:25])  # killed while writing the second line
    assert len(read_manifest(manifest)) == 1
    summary = run_corrupt_job(config)
    assert summary.written == 1
    assert [r["source_rel"] for r in manifest_lines(tmp_path / "out")] == sorted(
        r["source_rel"] for r in manifest_lines(tmp_path / "out"))


def test_resume_after_kill_9(tmp_path):
    make_images(tmp_path / "src", 12, size=64)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "qinstruct", "corrupt", str(tmp_path / "src"), "--out", str(out),
               "--all", "--severity", "1", "2", "3", "4", "5", "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        manifest = out / "manifest.jsonl"
        if manifest.exists() and manifest.read_text().count("\n") >= 150:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the job and its worker processes, mid-run
    process.wait()
    written_before = len(read_manifest(out / "manifest.jsonl"))
    assert 0 < written_before < 12 * 75, "the kill should land mid-job"
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    records = manifest_lines(out)
    keys = [(r["source_rel"], r["corruption"], r["severity"]) for r in records]
    assert len(keys) == len(set(keys)) == 12 * 75
    assert all((out / r["output"]).is_file() for r in records)
    assert not list(out.rglob("*.tmp"))  # no half-written files are left visible under final names
    for record in records[:: 97]:  # outputs of both runs equal a direct call with the recorded seed
        expected = corrupt(Image.open(record["source"]), record["corruption"], record["severity"], record["seed"])
        assert np.array_equal(np.asarray(Image.open(out / record["output"])), np.asarray(expected))


def test_one_job_per_output_folder(tmp_path):
    import fcntl

    make_images(tmp_path / "src", 1)
    out = tmp_path / "out"
    out.mkdir()
    with (out / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        config = CorruptJobConfig(source=str(tmp_path / "src"), out=str(out), corruptions=["fog"])
        with pytest.raises(ConfigError, match="is in use by"):
            run_corrupt_job(config)
    assert run_corrupt_job(config).written == 1


def test_bad_files_are_reported_and_skipped(tmp_path, capsys):
    src = tmp_path / "src"
    make_images(src, 2)
    (src / "notes.txt").write_text("not an image")
    (src / "zero.jpg").write_bytes(b"")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(src / "tiny.png")
    good = src / "img01.png"
    (src / "cut.png").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    code = main(["corrupt", str(src), "--out", str(tmp_path / "out"), "--corruption", "contrast"])
    err = capsys.readouterr().err
    assert code == 3
    assert len(manifest_lines(tmp_path / "out")) == 2
    for name, reason in [("notes.txt", "not an image"), ("zero.jpg", "empty file"),
                         ("tiny.png", "at least 32 px"), ("cut.png", "unreadable image data")]:
        assert any(name in line and reason in line for line in err.splitlines()), (name, err)


def test_single_bad_file_exits_non_zero(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    assert main(["corrupt", str(bad), "--out", str(tmp_path / "out"), "--corruption", "fog"]) == 2
    assert "bad.jpg: not an image file we read" in capsys.readouterr().err


def test_random_assign_is_reproducible_and_order_free(tmp_path):
    make_images(tmp_path / "src", 6)
    picks = []
    for workers, out in [(1, "a"), (2, "b")]:
        config = CorruptJobConfig(source=str(tmp_path / "src"), out=str(tmp_path / out), random_assign=True,
                                  seed=5, workers=workers)
        run_corrupt_job(config)
        picks.append(sorted((r["source_rel"], r["corruption"], r["severity"], r["seed"])
                            for r in manifest_lines(tmp_path / out)))
    assert picks[0] == picks[1] and len(picks[0]) == 6
    assert all(name in list_corruptions("common") for _, name, _, _ in picks[0])
    spread = {assign_random(5, f"img{i}.png") for i in range(300)}
    assert {name for name, _ in spread} == set(list_corruptions("common"))
    assert {severity for _, severity in spread} == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--corruption", "blurry"], "argument --corruption: invalid choice: 'blurry'"),
        (["--corruption", "fog", "--severity", "7"], "argument --severity: invalid choice: 7"),
        (["--corruption", "fog", "--max-megapixels", "nan"], "--max-megapixels: expected a value > 0 and <= 10000, got nan"),
        (["--corruption", "fog", "--workers", "0"], "--workers: expected a value >= 1 and <= 256, got 0"),
        ([], "choose corruptions"),
        (["--random-assign", "--corruption", "fog"], "give no corruptions"),
    ],
)
def test_bad_arguments_are_clear(tmp_path, capsys, argv, message):
    assert main(["corrupt", str(tmp_path), "--out", str(tmp_path / "o"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_yaml_config_with_flag_override(tmp_path):
    make_images(tmp_path / "src", 1)
    config_path = tmp_path / "job.yaml"
    config_path.write_text(f"source: {tmp_path / 'src'}\nout: {tmp_path / 'out'}\ncorruptions: [fog]\nseed: 3\n")
    assert main(["corrupt", "--config", str(config_path), "--severity", "2"]) == 0
    (record,) = manifest_lines(tmp_path / "out")
    assert record["severity"] == 2 and record["corruption"] == "fog"
    config_path.write_text("source: x\nout: y\ncorruption: [fog]\n")
    with pytest.raises(ConfigError, match="unknown key"):
        from qinstruct.config import load_config
        load_config(CorruptJobConfig, config_path)


def test_list_prints_all_names(capsys):
    assert main(["corrupt", "--list"]) == 0
    printed = capsys.readouterr().out.split()
    assert all(name in printed for name in list_corruptions())


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_workers_leave_when_the_parent_is_killed(tmp_path):
    make_images(tmp_path / "src", 12, size=64)
    command = [sys.executable, "-m", "qinstruct", "corrupt", str(tmp_path / "src"), "--out", str(tmp_path / "out"),
               "--all", "--severity", "1", "2", "3", "4", "5", "--workers", "2"]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        workers = [p for p in _children(process.pid)
                   if "multiprocessing" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="ignore")]
        time.sleep(0.05)
    assert workers, "the pool should have started"
    process.send_signal(signal.SIGKILL)  # the parent alone: its pool never gets to shut down
    process.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.1)
    alive = [p for p in workers if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"workers still running after their parent died: {alive}"
