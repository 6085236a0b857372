"""A training asked for in the studio, as its TrainConfig: confined to what the studio's users may reach, ready
for the job launcher (qinstruct.jobs), which runs it, watches it and stops it like every other long job."""
from __future__ import annotations

import ipaddress
from pathlib import Path

from ..access import AccessPolicy
from ..config import ConfigError, config_from_mapping
from .config import TrainConfig, parse_source


def _loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip()).is_loopback
    except ValueError:
        return False


def studio_config(values: dict, access: AccessPolicy, runs: Path, name: str, operator: bool = False) -> TrainConfig:
    """A run asked for in the studio: its folder under runs/NAME, its model and data confined to what the
    studio's users may reach (paths resolved, so that the run reads the same files from anywhere) and present
    now (a run is not started on data that does not exist yet), remote code only for the operator's specs,
    several machines (the server connecting to an address typed in a form) only for the operator."""
    from ..workspace import safe_name
    from .trainer import trainable_spec

    def confined(spec: str, what: str) -> str:
        source = parse_source(spec)
        path = access.data_path(source.path, what)
        if not path.is_file():
            raise ConfigError(f"{what}: {source.path}: no such file in the workspace")
        return str(path) + (f"={source.ratio:g}" if source.ratio != 1 else "") + (
            f"@{source.cap}" if source.cap else "")

    values = dict(values)
    if not name or not name.strip():
        raise ConfigError("run name: give the run a name (its folder under runs/)")
    values["output_dir"] = str(runs / safe_name(name))
    values["model"] = trainable_spec(str(values.get("model") or ""), access).resolved
    values["high_level"] = [confined(s, "high_level") for s in values.get("high_level", [])]
    values["low_level"] = [confined(s, "low_level") for s in values.get("low_level", [])]
    if values.get("image_root"):
        values["image_root"] = str(access.data_path(values["image_root"], "image root"))
    if values.get("trust_remote_code") and not access.may_trust(values["model"]):
        raise ConfigError("trust_remote_code: not allowed for this model here (the operator allows it only for the "
                          "specs given with --trust-remote-code)")
    config = config_from_mapping(TrainConfig, values, "the form")
    if not operator and (config.num_machines > 1 or not _loopback(config.main_process_ip)):
        raise ConfigError("num_machines: runs over several machines are the operator's to start (they make the "
                          "server connect to the address in the form); run the shell line on each machine")
    return config
