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


def test_one_module_starts_processes_and_no_tab_runs_a_job_on_a_thread():
    """Long jobs run one way: qinstruct/jobs/process.py starts every process (a job's, or a job's own workers);
    the only threads are a model's token stream, a worker's watchdog and the launcher's dispatcher (which starts
    waiting jobs' processes as slots free up), never a job."""
    process = re.compile(r"\bsubprocess\b|\bPopen\b|multiprocessing\.Process\(|os\.fork\(|os\.spawn")
    thread = re.compile(r"threading\.Thread\(|\bThread\(")
    files = [path for folder in ("qinstruct", "app") for path in (ROOT / folder).rglob("*.py")]
    starting = sorted(str(p.relative_to(ROOT)) for p in files if process.search(p.read_text()))
    threading = sorted(str(p.relative_to(ROOT)) for p in files if thread.search(p.read_text()))
    assert starting == ["qinstruct/jobs/process.py"]
    assert threading == ["qinstruct/corrupt/batch.py", "qinstruct/jobs/launcher.py", "qinstruct/models/chat.py",
                         "qinstruct/models/pair.py"]
