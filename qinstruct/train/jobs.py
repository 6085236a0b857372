"""Training runs as background jobs, for the Tune tab: start, watch, abort, resume, re-attach.

A run is a subprocess of our own CLI (`python -m qinstruct train --config RUN/launch.yaml`, an argument list,
in its own process group) writing into its run folder; everything the tab shows is read back from that folder
(status.json, log.jsonl, stdout.log, process.json), so a page reload -- or a studio restart -- re-attaches.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..access import AccessPolicy
from ..config import config_to_yaml, shell_line
from ..fileio import write_json, write_text
from ..runs import RunBusy, list_runs, lock_is_held, read_log, read_status
from .config import TrainConfig
from .trainer import MODEL

LAUNCH, PROCESS, STDOUT = "launch.yaml", "process.json", "stdout.log"
_CHILDREN: dict[str, subprocess.Popen] = {}  # started by this process: polled so that finished ones are reaped


@dataclass
class RunView:
    name: str
    path: Path
    state: str
    step: int = 0
    total: int = 0
    eta_s: float | None = None
    tokens_per_s: float | None = None
    memory_gib: float | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    eval_losses: list[tuple[int, float]] = field(default_factory=list)
    mixture: str = ""
    error: str | None = None
    log_tail: str = ""
    command: str | None = None

    @property
    def model_dir(self) -> Path | None:
        model = self.path / MODEL
        return model if (model / "qinstruct.json").is_file() else None

    def line(self) -> str:
        parts = [f"**{self.name}**: {self.state}"]
        if self.total:
            parts.append(f"step {self.step:,} / {self.total:,}")
        if self.losses:
            parts.append(f"loss {self.losses[-1][1]:.4f}")
        if self.eval_losses:
            parts.append(f"eval loss {self.eval_losses[-1][1]:.4f}")
        if self.tokens_per_s:
            parts.append(f"{self.tokens_per_s:,.0f} tokens/s")
        if self.eta_s is not None and self.state == "running":
            parts.append(f"ETA {self.eta_s:,.0f} s")
        if self.memory_gib is not None:
            parts.append(f"{self.memory_gib:.2f} GiB")
        return " · ".join(parts) + (f"  \n⚠ {self.error}" if self.error else "")


def _reap() -> None:
    for name, process in list(_CHILDREN.items()):
        if process.poll() is not None:
            del _CHILDREN[name]


def start_run(config: TrainConfig) -> Path:
    """Launch the run (or resume it: the trainer continues from its last checkpoint) in the background."""
    _reap()
    folder = Path(config.output_dir)
    if lock_is_held(folder) or str(folder) in _CHILDREN:
        raise RunBusy(f"{folder.name} is already running")
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / LAUNCH, config_to_yaml(config))
    status = read_status(folder)
    write_json(folder / "status.json", {"kind": "train", "state": "queued", "command": shell_line(config),
                                        **({"started": status.started} if status and status.started else {})})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    with (folder / STDOUT).open("a") as output:
        process = subprocess.Popen([sys.executable, "-m", "qinstruct", "train", "--config", str(folder / LAUNCH)],
                                   stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    _CHILDREN[str(folder)] = process
    write_json(folder / PROCESS, {"pid": process.pid, "started": time.time()})
    return folder


def abort_run(folder: Path, grace_s: float = 15.0) -> str:
    """Stop the whole process tree: SIGTERM (the run records itself as aborted), then SIGKILL if it lingers."""
    folder = Path(folder)
    try:
        pid = int(json.loads((folder / PROCESS).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return f"{folder.name}: no process recorded"
    if not lock_is_held(folder) and read_status(folder) and read_status(folder).state != "queued":
        return f"{folder.name} is not running"
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return f"{folder.name} had already stopped"
    deadline = time.time() + grace_s
    while time.time() < deadline and (lock_is_held(folder) or _alive(pid)):
        time.sleep(0.2)
        _reap()
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
        _reap()
        return f"{folder.name} did not stop within {grace_s:.0f} s and was killed; Resume continues from its last " \
               "checkpoint"
    return f"{folder.name} stopped; Resume continues from its last checkpoint"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (finished, not reaped by its parent) is not running
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def view_run(folder: Path, tail_lines: int = 12) -> RunView:
    _reap()
    folder = Path(folder)
    status = read_status(folder)
    view = RunView(folder.name, folder, status.state if status else "unknown",
                   error=status.error if status else None, command=status.command if status else None)
    for event in read_log(folder):
        if event.get("event") == "mixture":
            view.mixture = event.get("summary", "")
        if "step" not in event or "total" not in event:
            continue
        view.step, view.total = event["step"], event["total"]
        view.eta_s, view.tokens_per_s = event.get("eta_s"), event.get("tokens_per_s") or view.tokens_per_s
        view.memory_gib = event.get("memory_gib", view.memory_gib)
        if "loss" in event:
            view.losses.append((event["step"], event["loss"]))
        if "eval_loss" in event:
            view.eval_losses.append((event["step"], event["eval_loss"]))
    try:
        with (folder / STDOUT).open("rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - 20_000))
            view.log_tail = "\n".join(handle.read().decode(errors="replace").splitlines()[-tail_lines:])
    except OSError:
        pass
    return view


def train_runs(runs: Path) -> list[str]:
    """Names of the training runs in a runs/ folder, newest first."""
    return [status.name for status in list_runs(runs, "train", depth=1)]


def launch_config(folder: Path) -> Path:
    return Path(folder) / LAUNCH


def studio_config(values: dict, access: AccessPolicy, runs: Path, name: str) -> TrainConfig:
    """A run asked for in the studio: its folder under runs/NAME, its model and data confined to what the
    studio's users may reach (paths resolved, so that the run reads the same files from anywhere), remote code
    only for the operator's specs."""
    from ..config import ConfigError, config_from_mapping
    from ..models.specs import parse_spec
    from ..workspace import safe_name
    from .config import parse_source

    def confined(spec: str) -> str:
        source = parse_source(spec)
        path = str(access.data_path(source.path, "data file"))
        return path + (f"={source.ratio:g}" if source.ratio != 1 else "") + (f"@{source.cap}" if source.cap else "")

    values = dict(values)
    if not name or not name.strip():
        raise ConfigError("run name: give the run a name (its folder under runs/)")
    values["output_dir"] = str(runs / safe_name(name))
    values["model"] = parse_spec(str(values.get("model") or ""), access).resolved
    values["high_level"] = [confined(s) for s in values.get("high_level", [])]
    values["low_level"] = [confined(s) for s in values.get("low_level", [])]
    if values.get("image_root"):
        values["image_root"] = str(access.data_path(values["image_root"], "image root"))
    if values.get("trust_remote_code") and not access.may_trust(values["model"]):
        raise ConfigError("trust_remote_code: not allowed for this model here (the operator allows it only for the "
                          "specs given with --trust-remote-code)")
    return config_from_mapping(TrainConfig, values, "the form")
