"""A wheel built from the repository holds every non-Python file of the packages (what the code opens at run
time, such as the price table and the low-level vocabulary), so cost estimates and statistics work outside an
editable install."""
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1].parent


def test_wheel_holds_every_data_file(tmp_path):
    tracked = subprocess.run(["git", "ls-files", "qinstruct", "app"], cwd=ROOT, capture_output=True, text=True)
    files = [line for line in tracked.stdout.splitlines() if not line.endswith(".py")]
    if tracked.returncode != 0:  # not a git checkout: every file on disk
        files = [str(p.relative_to(ROOT)) for d in ("qinstruct", "app") for p in (ROOT / d).rglob("*")
                 if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert "qinstruct/convert/prices.yaml" in files and "qinstruct/data/lowlevel_vocabulary.yaml" in files
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in files if f not in names]
    assert not missing, f"not in the wheel: {missing}"
