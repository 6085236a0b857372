"""Running `qinstruct train` on several processes or machines through `accelerate launch` (DeepSpeed, FSDP).

The command is an argument list, never a shell string.  The launching process holds the run folder; its
children (one per process) train and process 0 writes the log.
"""
from __future__ import annotations

import shlex
import sys

from .config import TrainConfig
from .trainer import HELD_BY_PARENT, deepspeed_file


def accelerate_command(config: TrainConfig, config_file: str, machine_rank: int | None = None) -> list[str]:
    """`accelerate launch ... -m qinstruct train --config FILE --launcher none` for one machine."""
    rank = config.machine_rank if machine_rank is None else machine_rank
    command = [sys.executable, "-m", "accelerate.commands.launch",
               "--num_processes", str(config.num_processes * config.num_machines),
               "--num_machines", str(config.num_machines)]
    if config.num_machines > 1:
        command += ["--machine_rank", str(rank), "--main_process_ip", config.main_process_ip,
                    "--main_process_port", str(config.main_process_port)]
    else:
        command += ["--main_process_port", str(config.main_process_port)]
    if config.deepspeed != "none":
        command += ["--use_deepspeed", "--deepspeed_config_file", str(deepspeed_file(config.deepspeed))]
    elif config.fsdp:
        command += ["--use_fsdp", "--fsdp_sharding_strategy", "FULL_SHARD", "--fsdp_auto_wrap_policy",
                    "TRANSFORMER_BASED_WRAP", "--fsdp_state_dict_type", "SHARDED_STATE_DICT"]
    elif config.num_processes * config.num_machines > 1:
        command += ["--multi_gpu"]  # data parallel: NCCL on GPUs, gloo on the CPU (the trainer runs use_cpu there)
    command += ["--mixed_precision", "bf16" if config.bf16 and config.device != "cpu" else "no",
                "-m", "qinstruct", "train", "--config", config_file, "--launcher", "none"]
    return command


def per_machine_commands(config: TrainConfig, config_file: str) -> list[str]:
    """What to run on each machine, as shell lines a user can copy (the Tune tab shows them)."""
    return [shlex.join(accelerate_command(config, config_file, rank)) for rank in range(config.num_machines)]


def launch(config: TrainConfig, config_file: str) -> int:
    """Run this machine's share; the children train, this process waits.  Returns the exit status."""
    from ..jobs.process import run_workers

    return run_workers(accelerate_command(config, config_file), {HELD_BY_PARENT: "1"})
