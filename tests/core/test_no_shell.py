"""Subprocesses take argument lists: no shell=True, os.system or os.popen anywhere in the project's code."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(")


def test_no_shell_anywhere():
    offenders = [f"{path.relative_to(ROOT)}:{n}" for folder in ("qinstruct", "app", "scripts")
                 for path in (ROOT / folder).rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1) if FORBIDDEN.search(line)]
    assert not offenders, offenders
