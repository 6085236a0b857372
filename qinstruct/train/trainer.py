"""`qinstruct train`: the paper's tuning on transformers' Trainer, in a run folder.

    OUT/config.yaml, status.json, log.jsonl   the run folder (qinstruct.runs)
    OUT/checkpoints/checkpoint-N/              Trainer checkpoints: a killed run resumes from the last one
    OUT/model/                                 the result: a LoRA adapter (on the base it names) or full
                                               weights + processor, with qinstruct.json (base, strategy, data,
                                               config, final metrics): the Chat tab lists it at once

Only the chosen parts train (LoRA adapters on the language model and the projector by default; full: the parts
switched on); everything else stays frozen.  In a multi-process run every process trains and process 0 writes.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import check_config, config_to_dict
from ..config.schema import mapped_values
from ..errors import first_line
from ..runs import Progress, RunBusy, RunFolder, check_same_job, read_status
from .config import TrainConfig
from .data import Mixture, build_mixture
from .supervision import Collator, Supervisor, TrainingSet, approximate_length

CHECKPOINTS, MODEL = "checkpoints", "model"
HELD_BY_PARENT = "QINSTRUCT_RUN_HELD"  # set by the launcher for its children: the parent holds the run folder


@dataclass
class TrainResult:
    model_dir: str
    steps: int
    train_loss: float | None
    eval_loss: float | None
    trainable: int
    total: int
    mixture: str
    seconds: float


def process_rank() -> tuple[int, int]:
    """(rank, local rank) of this process in a launched run; (0, 0) alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0))


def trainable_spec(text: str, policy=None):
    """The starting model's spec under `policy` (default: the process's; a studio-launched run: the studio's),
    refused at once when it is nothing we can train (an endpoint; a random tiny model is fine)."""
    from ..config import ConfigError
    from ..models.specs import RemoteSpec, parse_spec

    spec = parse_spec(text, policy)
    if isinstance(spec, RemoteSpec):
        raise ConfigError(f"model: {text} is an endpoint; training needs local weights (a folder or a hub id)")
    return spec


def load_for_training(config: TrainConfig):
    """The starting model through the model layer (any spec), in training dtype on this process's device.
    A LoRA adapter as the start of an `after` run keeps training that adapter."""
    import torch

    from ..models.loading import load_spec
    from ..models.specs import AdapterSpec
    from ..models.types import LoadOptions

    spec = trainable_spec(config.model)
    gpu = config.device != "cpu" and torch.cuda.is_available()
    if config.device == "cuda" and not gpu:
        from ..config import ConfigError

        raise ConfigError("device: cuda was asked for, but no CUDA GPU is available here")
    distributed = config.deepspeed != "none" or config.fsdp
    device = "cpu" if not gpu or distributed else f"cuda:{process_rank()[1]}"
    dtype = "bfloat16" if gpu and config.bf16 else "float32"
    loaded = load_spec(spec, LoadOptions(device=device, dtype=dtype, trust_remote_code=config.trust_remote_code))
    return loaded, spec, isinstance(spec, AdapterSpec)


def prepare_parameters(loaded, config: TrainConfig, continue_adapter: bool):
    """Freeze or wrap the model as the method says; returns the model to train."""
    from ..models.families import PROJECTOR_MODULES, lora_pattern, part_of

    model = loaded.model
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model

        if continue_adapter:  # the adapter of a finished run trains on (the `after` stage on a LoRA model)
            for name, parameter in model.named_parameters():
                parameter.requires_grad = "lora_" in name or (config.tune_projector and part_of(name) == "projector")
            return model
        present = [name for name in PROJECTOR_MODULES if any(f".{name}." in f".{n}." for n, _ in
                                                             model.named_modules())]
        targets = lora_pattern(config.tune_vision_tower, loaded.family) if config.lora_targets == "auto" \
            else config.lora_targets
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                          target_modules=targets,
                          modules_to_save=[n.split(".")[-1] for n in present] if config.tune_projector else None)
        try:
            model = get_peft_model(model, lora)
        except ValueError as error:  # peft's "No modules were targeted" (a ValueError) and its kin
            from ..config import ConfigError

            raise ConfigError(f"lora_targets: {targets!r} matches no module of this model that can take an adapter; "
                              "'auto' picks the language model's projections") from error
        if not config.tune_llm:  # adapters on the vision tower only, say
            for name, parameter in model.named_parameters():
                if "lora_" in name and part_of(name) == "llm":
                    parameter.requires_grad = False
        return model
    wanted = {"vision": config.tune_vision_tower, "projector": config.tune_projector, "llm": config.tune_llm}
    for name, parameter in model.named_parameters():
        parameter.requires_grad = wanted[part_of(name)]
    return model


def training_arguments(config: TrainConfig, output: Path, gpu: bool, evaluates: bool = True):
    """TrainingArguments from the config: the fields marked `maps_to` as they are, `trainer_args` on top, and the
    few that need a word of their own (field names differ between transformers 5.17 and 5.2x).  Without an eval
    set (`evaluates` False: nothing held out) eval_steps is ignored: the Tune form sends its default, and
    transformers refuses an eval schedule with nothing to evaluate."""
    import dataclasses

    from transformers import TrainingArguments

    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    eval_steps = config.eval_steps if evaluates else 0
    kwargs: dict[str, Any] = dict(
        **mapped_values(config), output_dir=str(output / CHECKPOINTS), max_steps=config.max_steps or -1,
        save_strategy="steps", eval_strategy="steps" if eval_steps else "no", eval_steps=eval_steps or None,
        bf16=gpu and config.bf16, use_cpu=not gpu, gradient_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False}, remove_unused_columns=False, report_to="none",
        disable_tqdm=True, save_only_model=False, ddp_find_unused_parameters=False,
        ddp_backend="gloo" if not gpu and int(os.environ.get("WORLD_SIZE", 1)) > 1 else None)
    if "activation_checkpointing" in known:  # transformers >= 5.2x renamed it; 5.17 knows the old name only
        kwargs["activation_checkpointing"] = kwargs.pop("gradient_checkpointing")
        kwargs["activation_checkpointing_kwargs"] = kwargs.pop("gradient_checkpointing_kwargs")
    if "warmup_ratio" in known:
        kwargs["warmup_ratio"] = config.warmup_ratio
    else:
        kwargs["warmup_steps"] = config.warmup_ratio  # a float below 1 is a ratio in transformers >= 5.2x
    if config.deepspeed != "none":
        kwargs["deepspeed"] = str(deepspeed_file(config.deepspeed))
    kwargs.update(config.extra_arguments())
    return TrainingArguments(**{k: v for k, v in kwargs.items() if k in known})


def deepspeed_file(stage: str) -> Path:
    return Path(__file__).resolve().parent / "launch_configs" / f"deepspeed_{stage}.json"


def _checkpoints(output: Path) -> list[Path]:
    """The checkpoint folders, newest first."""
    found = [p for p in (output / CHECKPOINTS).glob("checkpoint-*")
             if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]), reverse=True)


def checkpoint_problem(folder: Path) -> str | None:
    """Why a checkpoint cannot be resumed from (None: it is whole).  Its state is written last, so a save that was
    killed has none; a truncated or overwritten file fails its own format's check (a JSON state, a safetensors
    header, a torch archive's directory)."""
    import zipfile

    state = folder / "trainer_state.json"
    try:
        if not isinstance(json.loads(state.read_text(encoding="utf-8")).get("global_step"), int):
            return "trainer_state.json has no global_step"
    except (OSError, ValueError, AttributeError):
        return "trainer_state.json is missing or damaged (the save did not finish)"
    for path in sorted(folder.iterdir()):
        try:
            if path.suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(path), framework="pt") as weights:
                    weights.keys()
            elif path.suffix in (".pt", ".pth", ".bin"):
                with zipfile.ZipFile(path) as archive:
                    archive.namelist()
        except Exception as error:  # noqa: BLE001 - each format fails its own way; any failure means damaged
            return f"{path.name} is damaged ({first_line(error)[:100]})"
    return None


def last_checkpoint(output: Path) -> str | None:
    """The newest checkpoint a run can continue from."""
    return next((str(p) for p in _checkpoints(output) if checkpoint_problem(p) is None), None)


def set_aside_damaged(output: Path) -> list[str]:
    """Checkpoints newer than the last whole one are damaged (a full disk, a kill during a save, a file changed
    since): renamed damaged-checkpoint-N, kept for whoever wants to look, and never resumed from or rotated."""
    notes = []
    for folder in _checkpoints(output):
        problem = checkpoint_problem(folder)
        if problem is None:
            break
        target = folder.with_name(f"damaged-{folder.name}")
        shutil.rmtree(target, ignore_errors=True)
        folder.rename(target)
        notes.append(f"{folder.name}: {problem}; set aside as {target.name}")
    return notes


def refuse_finished(config: TrainConfig) -> None:
    """A finished run is not trained again: transformers resumed from its last checkpoint trains one step past
    max_steps ("step 9/8") and the model would be written over.  Refused as the job launcher refuses it, before
    anything in the folder is touched (another config is said as such: what differs is the more useful line).  A
    done run whose model was removed continues from its checkpoints."""
    output = Path(config.output_dir)
    status = read_status(output)
    if status is not None and status.kind == TrainConfig.KIND and status.state == "done" and \
            (output / MODEL / "qinstruct.json").is_file():
        check_same_job(output, config)
        raise RunBusy(f"{output} is done (its model is in {output / MODEL}); start a new run under another name")


def run_training(config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    check_config(config)
    refuse_finished(config)
    trainable_spec(config.model)  # a missing model is said at once, before the data is read
    output = Path(config.output_dir)
    rank, _ = process_rank()
    if rank == 0 and not os.environ.get(HELD_BY_PARENT):
        run = RunFolder(output, TrainConfig.KIND)
        with run.hold(config):
            result = _train(config, output, run, progress)
            run.summary = {"steps": result.steps, "train_loss": result.train_loss, "eval_loss": result.eval_loss,
                           "model": result.model_dir}
            return result
    return _train(config, output, RunFolder(output, TrainConfig.KIND) if rank == 0 else None, progress)


def _train(config: TrainConfig, output: Path, run: RunFolder | None, progress: Progress | None) -> TrainResult:
    import torch

    from .callbacks import RunLogCallback

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    mixture = build_mixture(config)
    if run is not None:
        run.log(event="mixture", summary=mixture.summary(), counts=mixture.counts())
    loaded, spec, continue_adapter = load_for_training(config)
    model = prepare_parameters(loaded, config, continue_adapter and config.method == "lora")
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    soft = any("level_probs" in example.item.meta for example in [*mixture.train, *mixture.eval])
    supervisor = Supervisor(loaded, config.max_length, soft_levels=soft)  # DeQA-Score's soft labels, where given
    TrainingSet(mixture.train, supervisor)[0]  # one example through the template now: a max_length too short for
    # the image and the first question is said at once, in one line, not from inside the training loop
    collator = Collator(loaded.tokenizer.pad_token_id)
    gpu = next(model.parameters()).device.type == "cuda" or (config.device != "cpu" and torch.cuda.is_available())
    arguments = training_arguments(config, output, gpu, evaluates=bool(mixture.eval))
    image_tokens = _image_tokens(supervisor, mixture)
    from .mixture_trainer import MixtureTrainer

    trainer = MixtureTrainer(
        model=model, args=arguments, train_dataset=TrainingSet(mixture.train, supervisor),
        eval_dataset=TrainingSet(mixture.eval, supervisor) if mixture.eval else None, data_collator=collator,
        callbacks=[RunLogCallback(run, collator, progress)],
        lengths=[approximate_length(e, image_tokens) for e in mixture.train] if config.group_by_length else None)
    if config.gradient_checkpointing and hasattr(model, "enable_input_require_grads"):
        model.enable_input_require_grads()
    if config.compile and gpu:
        from ..models.rating import compile_blocks

        compile_blocks(model)
    for note in set_aside_damaged(output) if trainer.is_world_process_zero() else []:
        print(f"note: {note}", file=sys.stderr, flush=True)
        if run is not None:
            run.log(event="checkpoint set aside", note=note)
    resume = last_checkpoint(output)
    outcome = trainer.train(resume_from_checkpoint=resume)
    eval_loss = final_eval_loss(trainer) if mixture.eval else None
    model_dir = output / MODEL
    if trainer.is_world_process_zero():
        _save(trainer, loaded, spec, config, model_dir, mixture,
              {"train_loss": outcome.training_loss, "eval_loss": eval_loss, "steps": outcome.global_step})
        if run is not None:
            run.log(event="finished", step=outcome.global_step, train_loss=outcome.training_loss, eval_loss=eval_loss)
    return TrainResult(str(model_dir), outcome.global_step, outcome.training_loss, eval_loss, trainable, total,
                       mixture.summary(), time.perf_counter() - started)


def final_eval_loss(trainer) -> float:
    """The eval loss after the last step: the one the schedule just computed when it fell on that step (computing
    it again would cost a whole evaluation and log the same number twice), else one evaluation now."""
    step = trainer.state.global_step
    done = [entry["eval_loss"] for entry in trainer.state.log_history
            if "eval_loss" in entry and entry.get("step") == step]
    return done[-1] if done else trainer.evaluate()["eval_loss"]


def _image_tokens(supervisor: Supervisor, mixture: Mixture) -> int:
    """The image's share of a sequence (one encoded example), for length grouping."""
    example = next((e for e in mixture.train if e.image is not None), None)
    if example is None:
        return 0
    encoded = supervisor.encode(example)
    words = sum(len(t.value.split()) for t in example.item.conversations)
    return max(0, len(encoded["input_ids"]) - int(words * 1.3))


def _save(trainer, loaded, spec, config: TrainConfig, model_dir: Path, mixture: Mixture, metrics: dict) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    model = trainer.model
    if config.method == "lora":
        base = spec.base.text if getattr(spec, "base", None) is not None else config.model
        name = model.active_adapter if isinstance(model.active_adapter, str) else model.active_adapters[0]
        model.peft_config[name].base_model_name_or_path = _portable(base)
        model.save_pretrained(model_dir, selected_adapters=[name])
        if name != "default":  # peft puts other adapters in a subfolder; the folder itself is the model
            for path in (model_dir / name).iterdir():
                path.replace(model_dir / path.name)
            (model_dir / name).rmdir()
    else:
        trainer.save_model(str(model_dir))
        loaded.processor.save_pretrained(model_dir)
    marker = {"label": f"{Path(config.output_dir).name} ({config.strategy}, {config.method}, trained)",
              "trained": True, "base": config.model, "strategy": config.strategy, "method": config.method,
              "data": {"high_level": config.high_level, "low_level": config.low_level},
              "mixture": mixture.counts(), "metrics": metrics, "config": config_to_dict(config)}
    (model_dir / "qinstruct.json").write_text(json.dumps(marker, indent=1))


def _portable(base: str) -> str:
    """A base folder is written as an absolute path (the adapter must find it from anywhere); hub ids and
    tiny: specs as they are."""
    path = Path(base).expanduser()
    return str(path.resolve()) if path.exists() else base


