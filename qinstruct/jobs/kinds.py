"""The kinds of long job the launcher runs: for each, its config class (whose COMMAND is the verb), the field
naming its run folder, and what running it again continues from, said in words a user can trust."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import ConfigError
from ..fileio import read_jsonl


@dataclass(frozen=True)
class JobKind:
    name: str  # status.json's kind
    config_class: Callable[[], type]  # imported when needed: `qinstruct runs` must stay quick
    folder_field: str
    resume_point: Callable[[Path], str]  # "continues from its checkpoint at step 40", "starts over: ..."
    rerun_done: bool = False  # whether a finished run may run again (an evaluation recomputes its summary)


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


def all_kinds() -> dict[str, JobKind]:
    """The kinds registered here and one per evaluation protocol (eval-NAME), whenever that was registered."""
    from ..eval.jobs import PROTOCOLS, list_protocols

    list_protocols()  # the built-in protocols register on first use
    evaluations = {f"eval-{name}": JobKind(f"eval-{name}", (lambda p=protocol: p.config), "out",
                                           _items_point("items.jsonl", "items"), rerun_done=True)
                   for name, protocol in PROTOCOLS.items()}
    return {**KINDS, **evaluations}


def kind_named(name: str) -> JobKind:
    kinds = all_kinds()
    if name not in kinds:
        raise ConfigError(f"{name}: not a kind of job the launcher runs ({', '.join(kinds)})")
    return kinds[name]


def kind_of(config: Any) -> JobKind:
    """The kind a config is the job of."""
    for kind in all_kinds().values():
        if type(config) is kind.config_class():
            return kind
    raise ConfigError(f"{type(config).__name__}: not a job the launcher runs")


def folder_of(config: Any) -> Path:
    return Path(getattr(config, kind_of(config).folder_field))


def _lines(path: Path) -> int:
    return len(read_jsonl(path, True)) if path.is_file() else 0


def _training_point(folder: Path) -> str:
    from ..train.trainer import last_checkpoint

    checkpoint = last_checkpoint(folder)
    if checkpoint is None:
        return "starts over from step 1: no checkpoint was saved before it stopped"
    return f"continues from its checkpoint at step {int(Path(checkpoint).name.split('-')[1]):,}"


def _items_point(file: str, what: str) -> Callable[[Path], str]:
    def point(folder: Path) -> str:
        done = _lines(folder / file)
        return f"continues after the {done:,} {what} already done" if done else f"starts from the first {what[:-1]}"
    return point


def _train_config():
    from ..train.config import TrainConfig
    return TrainConfig


def _corrupt_config():
    from ..corrupt.batch import CorruptJobConfig
    return CorruptJobConfig


def _convert_config():
    from ..convert.job import ConvertJobConfig
    return ConvertJobConfig


def _world_config():
    from ..demo.config import WorldConfig
    return WorldConfig


register(JobKind("train", _train_config, "output_dir", _training_point))
register(JobKind("corrupt", _corrupt_config, "out", _items_point("manifest.jsonl", "images"), rerun_done=True))
register(JobKind("convert", _convert_config, "out", _items_point("partial.jsonl", "feedbacks"), rerun_done=True))
register(JobKind("demo-world", _world_config, "out", lambda folder: "continues where it stopped"))
