"""Each job tab shows the same job as a shell command; running that command gives the same files."""
import filecmp
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client

from qinstruct.runs import RUN_FILES

from ..helpers.jobs import watch_until_ended

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client(studio):
    return Client(studio["url"], verbose=False)


def shell_command(markdown: str) -> list[str]:
    match = re.search(r"Same job from a shell[^`]*`([^`]+)`", markdown)
    assert match, markdown
    argv = shlex.split(match.group(1))
    assert argv[0] == "qinstruct"
    return argv


def run_elsewhere(argv: list[str], out: Path, workspace: Path) -> None:
    """The tab's command with only --out changed, run as the page says: a new process, from the workspace folder
    (the line's paths are relative to it: the page shows no server path)."""
    argv = list(argv)
    assert not any(str(workspace) in arg for arg in argv), argv
    argv[argv.index("--out") + 1] = str(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "qinstruct", *argv[1:]], env=env, capture_output=True, text=True,
                          timeout=300, cwd=workspace)
    assert done.returncode == 0, done.stderr


def same_files(a: Path, b: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    names = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file() and p.name not in RUN_FILES
                   and p.name not in ignore)
    other = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file() and p.name not in RUN_FILES
                   and p.name not in ignore)
    assert names == other
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors
    return match


def test_corrupt_batch(client, studio, tmp_path):
    status = client.predict(None, "demo/world/images/pristine", ["fog", "pixelate"], [2, 4], 5, False, 2,
                            "shell-check", api_name="/corrupt_batch")
    assert ": done" in watch_until_ended(client, "/corrupt_batch_watch", "shell-check")
    argv = shell_command(status)
    assert "--out" in argv and "--seed" in argv and "--corruption" in argv
    run_elsewhere(argv, tmp_path / "again", studio["workspace"].root)
    tab_out = studio["workspace"].batches / "shell-check"
    matched = same_files(tab_out, tmp_path / "again", ignore=("manifest.jsonl",))
    assert len(matched) == 240 * 4  # every image, byte for byte
    root = studio["workspace"].root

    def records(folder):  # the source as written (absolute from the tab, relative from the workspace's shell)
        rows = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
        return sorted(({**row, "source": str((root / row["source"]).resolve())} for row in rows),
                      key=lambda r: r["output"])
    assert records(tab_out) == records(tmp_path / "again")


def test_statistics_report(client, studio, tmp_path):
    client.predict("Embedded demo world", None, "", "", api_name="/stats_load")
    *_, shell = client.predict(["scenes", "photos-natural"], 10, 90, 20, 8, 3, api_name="/stats_update")
    argv = shell_command(shell)
    assert argv[:3] == ["qinstruct", "stats", "report"] and "--budget" in argv and "--seed" in argv
    tab_out = studio["workspace"].root / argv[argv.index("--out") + 1]
    run_elsewhere(argv, tmp_path / "again", studio["workspace"].root)
    assert "report.zip" in same_files(tab_out, tmp_path / "again")


def test_conversion(client, studio, tmp_path):
    status = client.predict(kind="Embedded demo world", upload=None, backend="offline", name="shell-convert",
                            subsets=["yes-no", "how", "extended"], concurrency=4, api_key="", api_name="/convert_run")
    assert ": done" in watch_until_ended(client, "/convert_watch", "shell-convert")
    argv = shell_command(status)
    assert "--subsets" in argv and "--cache-dir" in argv
    run_elsewhere(argv, tmp_path / "again", studio["workspace"].root)
    tab_out = studio["workspace"].conversions / "shell-convert"
    assert (tab_out / "items.json").read_bytes() == (tmp_path / "again" / "items.json").read_bytes()
    report, again = (json.loads((folder / "report.json").read_text()) for folder in (tab_out, tmp_path / "again"))
    assert {k: v for k, v in report.items() if k != "output"} == {k: v for k, v in again.items() if k != "output"}
