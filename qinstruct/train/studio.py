"""A training asked for in the studio, as its TrainConfig: its run folder under the user's runs/, its model one
the studio's users may load, ready for the job launcher (qinstruct.jobs), which confines its data like every
job's and runs, watches and stops it like every other long job."""
from __future__ import annotations

from pathlib import Path

from ..access import AccessPolicy
from ..config import ConfigError, config_from_mapping
from ..urlguard import is_loopback
from .config import TrainConfig


def studio_config(values: dict, access: AccessPolicy, runs: Path, name: str, operator: bool = False) -> TrainConfig:
    """A run asked for in the studio: its folder under runs/NAME, its model one the studio's users may load,
    remote code only for the operator's specs, several machines (the server connecting to an address typed in
    a form) only for the operator."""
    from ..workspace import safe_name
    from .trainer import trainable_spec

    values = dict(values)
    if not name or not name.strip():
        raise ConfigError("run name: give the run a name (its folder under runs/)")
    values["output_dir"] = str(runs / safe_name(name))
    values["model"] = trainable_spec(str(values.get("model") or ""), access).resolved
    if values.get("trust_remote_code") and not access.may_trust(values["model"]):
        raise ConfigError("trust_remote_code: not allowed for this model here (the operator allows it only for the "
                          "specs given with --trust-remote-code)")
    config = config_from_mapping(TrainConfig, values, "the form")
    if not operator and (config.num_machines > 1 or not is_loopback(config.main_process_ip)):
        raise ConfigError("num_machines: runs over several machines are the operator's to start (they make the "
                          "server connect to the address in the form); run the shell line on each machine")
    return config
