"""TrainConfig: the one place the options of `qinstruct train` (and the Tune tab's form) are written.

Defaults follow the official Q-Instruct / LLaVA-1.5 scripts (1 epoch, lr 2e-5 full or 2e-4 LoRA, cosine with 3%
warmup, max length 2048, gradient checkpointing, bf16 on a GPU; LoRA r 128, alpha 256, dropout 0.05, as Q-Align).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from ..config import ConfigError, option
from ..data.kinds import ITEM_KINDS

STRATEGIES = {
    "mix": "low-level data added to the high-level data, from the base (stage-1) model (the paper's best)",
    "after": "a third stage on the low-level data only, from a finished model",
    "replace": "the low-level data instead of the high-level data, from the base model (ablation)",
    "baseline": "the high-level data only, from the base model (what the others are compared with)",
}
METHODS = ("lora", "full")
LAUNCHERS = ("none", "accelerate")
DEEPSPEED = ("none", "zero2", "zero3")


@dataclass(kw_only=True)
class TrainConfig:
    COMMAND: ClassVar = ("train",)
    KIND: ClassVar = "train"

    model: str = option(help="the model to start from: a folder, a hub id, tiny:FAMILY (the base model for mix, "
                        "replace and baseline; a finished model for after)", metavar="SPEC", group="model")
    output_dir: str = option(help="the run folder: checkpoints, the final model, config.yaml, status.json, "
                             "log.jsonl", affects_result=False)
    trust_remote_code: bool = option(False, help="run code shipped with the checkpoint (only when you trust it)")
    strategy: str = option("mix", help="what data, from what model: " + "; ".join(
        f"{k}: {v}" for k, v in STRATEGIES.items()), choices=list(STRATEGIES), group="data & strategy")
    high_level: list[str] = option(default_factory=list, path="sources",
                                   help="high-level instruction files (LLaVA JSON, "
                                   "LLaMA-Factory ShareGPT), each FILE[=RATIO][@CAP]: RATIO repeats or subsamples "
                                   "it, CAP limits its items", metavar="FILE")
    low_level: list[str] = option(default_factory=list, path="sources",
                                  help="low-level instruction files (Q-Instruct, converted "
                                  "feedbacks, Q-Align levels), each FILE[=RATIO][@CAP]", metavar="FILE")
    image_root: str = option("", path="folder",
                             help="folder the items' image paths are relative to (default: each file's own "
                             "folder)")
    low_level_fraction: float = option(1.0, help="share of the low-level data used (Fig. 6's scaling curve)", gt=0,
                                       max=1)
    kind_ratios: list[str] = option(default_factory=list, help="KIND=RATIO for items of the low-level data by kind "
                                    "(pathway, yes-no, what-how, mcq, extended), e.g. extended=0.5",
                                    metavar="KIND=RATIO")
    join_per_image: int = option(0, help="join the items about one image into multi-turn conversations of up to N "
                                 "exchanges, in a seeded order (0: each item alone); small models learn low-level "
                                 "attributes this way, with content and quality answers sharing the image tokens",
                                 min=0, max=64)
    eval_fraction: float = option(0.02, help="share of the items held out for the eval loss", min=0, max=0.5)
    eval_items: int = option(0, help="at most this many held-out items in each eval loss (0: all of them); the "
                             "others stay out of training all the same", min=0, max=10_000_000)
    max_length: int = option(2048, help="longest training sequence in tokens (image tokens included)", min=64,
                             max=131072)
    seed: int = option(42, help="seed of the mixture, the split and the training", min=0, max=2**32 - 1,
                       maps_to=("seed", "data_seed"))
    method: str = option("lora", help="lora: train adapters on the language model (and the projector); full: "
                         "train the chosen parts in full", choices=METHODS, group="method")
    lora_r: int = option(128, help="LoRA rank", min=1, max=4096)
    lora_alpha: int = option(256, help="LoRA alpha (usually 2 x r)", min=1, max=65536)
    lora_dropout: float = option(0.05, help="LoRA dropout", min=0, max=0.9)
    lora_targets: str = option("auto", help="regular expression of the modules that get adapters; auto: the "
                               "language model's projections (and the vision tower's with tune_vision_tower)")
    tune_vision_tower: bool = option(False, help="train the vision tower too (full), or give it adapters (lora)")
    tune_projector: bool = option(True, help="train the multimodal projector")
    tune_llm: bool = option(True, help="train the language model (full) or its adapters (lora)")
    epochs: float = option(1.0, help="passes over the data", gt=0, max=10_000, group="schedule",
                           maps_to="num_train_epochs")
    max_steps: int = option(0, help="stop after this many optimizer steps (0: as many as the epochs take)", min=0,
                           max=100_000_000)
    learning_rate: float = option(2e-4, help="peak learning rate (official: 2e-4 LoRA, 2e-5 full)", gt=0, max=1,
                                  maps_to="learning_rate")
    lr_scheduler: str = option("cosine", help="learning-rate schedule after warmup",
                               choices=["cosine", "linear", "constant_with_warmup"], maps_to="lr_scheduler_type")
    warmup_ratio: float = option(0.03, help="share of the steps spent warming up", min=0, max=0.5)
    weight_decay: float = option(0.0, help="AdamW weight decay", min=0, max=1, maps_to="weight_decay")
    batch_size: int = option(16, help="sequences per device per step", min=1, max=4096,
                             maps_to=("per_device_train_batch_size", "per_device_eval_batch_size"))
    gradient_accumulation: int = option(1, help="steps accumulated per optimizer step (global batch = batch_size x "
                                        "this x processes)", min=1, max=4096, maps_to="gradient_accumulation_steps")
    eval_steps: int = option(0, help="eval loss every N steps (0: at the end only)", min=0, max=100_000_000,
                            affects_result=False)
    save_steps: int = option(50, help="checkpoint every N steps (a killed run resumes from the last)", min=1,
                            max=100_000_000, affects_result=False, maps_to="save_steps")
    save_total_limit: int = option(2, help="checkpoints kept", min=1, max=10_000, affects_result=False,
                                   maps_to="save_total_limit")
    logging_steps: int = option(1, help="log loss and speed every N steps", min=1, max=100_000_000,
                               affects_result=False, maps_to="logging_steps")
    device: str = option("auto", help="auto (a GPU when there is one), cuda or cpu", choices=["auto", "cuda", "cpu"],
                         group="hardware")
    bf16: bool = option(True, help="bfloat16 on a GPU (the CPU always trains in float32)")
    gradient_checkpointing: bool = option(True, help="recompute activations in the backward pass (less memory, "
                                          "~30% slower)")
    compile: bool = option(False, help="compile each repeated layer once (GPU; about a minute of compiling, then "
                           "faster steps: scripts/bench_train.py measures it)")
    group_by_length: bool = option(True, help="batch sequences of similar length together (less padding)")
    dataloader_workers: int = option(0, help="processes preparing batches", min=0, max=64, affects_result=False,
                                     maps_to="dataloader_num_workers")
    launcher: str = option("none", help="none: this process; accelerate: `accelerate launch` with the options below",
                           choices=LAUNCHERS)
    num_processes: int = option(1, help="processes per machine (GPUs, or CPU processes on the gloo backend)", min=1,
                                max=1024)
    num_machines: int = option(1, help="machines", min=1, max=1024)
    machine_rank: int = option(0, help="this machine's rank", min=0, max=1023)
    main_process_ip: str = option("127.0.0.1", help="address of the rank-0 machine")
    main_process_port: int = option(29500, help="port of the rank-0 machine", min=1, max=65535)
    deepspeed: str = option("none", help="DeepSpeed ZeRO stage (the official scripts used ZeRO-3)", choices=DEEPSPEED)
    fsdp: bool = option(False, help="PyTorch FSDP instead of DeepSpeed")
    trainer_args: list[str] = option(default_factory=list, help="any other field of transformers' "
                                     "TrainingArguments, as KEY=VALUE (VALUE read as YAML), e.g. optim=adafactor "
                                     "max_grad_norm=0.5; it overrides what the options above set",
                                     metavar="KEY=VALUE", group="transformers")

    def validate(self) -> None:
        if self.strategy in ("mix", "after", "replace") and not self.low_level:
            raise ConfigError(f"low_level: the {self.strategy} strategy trains on low-level data; give at least one "
                              "file")
        if self.strategy in ("mix", "baseline") and not self.high_level:
            raise ConfigError(f"high_level: the {self.strategy} strategy trains on high-level data; give at least "
                              "one file")
        for spec in self.kind_ratios:
            kind, _, ratio = spec.partition("=")
            if kind not in ITEM_KINDS or not _is_ratio(ratio):
                raise ConfigError(f"kind_ratios: expected KIND=RATIO with KIND among {', '.join(ITEM_KINDS)}, got "
                                  f"{spec!r}")
        for spec in [*self.high_level, *self.low_level]:
            parse_source(spec)
        if self.lora_targets != "auto":
            try:
                re.compile(self.lora_targets)
            except re.error as error:
                raise ConfigError(f"lora_targets: {self.lora_targets!r} is not a regular expression ({error})") \
                    from None
        if self.deepspeed != "none" and self.fsdp:
            raise ConfigError("choose DeepSpeed or FSDP, not both")
        if self.machine_rank >= self.num_machines:
            raise ConfigError("machine_rank must be below num_machines")
        if (self.deepspeed != "none" or self.fsdp or self.num_machines > 1) and self.launcher != "accelerate":
            raise ConfigError("DeepSpeed, FSDP and several machines run through --launcher accelerate")
        if self.trainer_args:
            self.extra_arguments()

    def extra_arguments(self) -> dict:
        """trainer_args as TrainingArguments' keywords; a key it does not have, or a value that is not YAML, is
        refused naming it."""
        import dataclasses

        import yaml
        from transformers import TrainingArguments

        known = {f.name for f in dataclasses.fields(TrainingArguments)}
        extra = {}
        for item in self.trainer_args:
            key, sep, text = item.partition("=")
            if not sep or key.strip() not in known:
                raise ConfigError(f"trainer_args: {item!r}: expected KEY=VALUE with KEY a field of transformers' "
                                  "TrainingArguments (e.g. optim=adafactor)")
            try:
                extra[key.strip()] = yaml.safe_load(text)
            except yaml.YAMLError:
                raise ConfigError(f"trainer_args: {item!r}: the value is not YAML") from None
        return extra

    @property
    def uses_high_level(self) -> bool:
        return self.strategy in ("mix", "baseline")

    @property
    def uses_low_level(self) -> bool:
        return self.strategy in ("mix", "after", "replace")


def _is_ratio(text: str) -> bool:
    try:
        return 0 <= float(text) <= 1000  # nan and inf are no ratios
    except ValueError:
        return False


@dataclass(frozen=True)
class Source:
    path: str
    ratio: float = 1.0  # > 1 repeats the file, < 1 takes a seeded sample of it
    cap: int | None = None  # at most this many items (after the ratio)


def parse_source(spec: str) -> Source:
    """FILE[=RATIO][@CAP]."""
    rest, at, cap = spec.rpartition("@") if "@" in spec else (spec, "", "")
    path, eq, ratio = rest.rpartition("=") if "=" in rest else (rest, "", "")
    try:
        source = Source(path, float(ratio) if eq else 1.0, int(cap) if at else None)
    except ValueError:
        raise ConfigError(f"data source {spec!r}: expected FILE[=RATIO][@CAP], e.g. qi.json=0.5@20000") from None
    if not path or not 0 <= source.ratio <= 1000 or (source.cap is not None and source.cap < 1):  # nan: refused
        raise ConfigError(f"data source {spec!r}: expected FILE[=RATIO][@CAP] with RATIO from 0 to 1000 and CAP >= 1")
    return source
