"""Specs -> loaded models.  One dispatcher (`load_model`) over the spec kinds of specs.py.

Weights load on the GPU in bf16 when there is one, else on the CPU in fp32.  trust_remote_code is passed only
when the caller asks and the access policy allows it for that spec (the studio: only the operator's list).

This is the one place models load, whoever asks (a tab, the pool, an evaluator, the trainer, a job the studio
launched): a caller that passes no policy gets the process's (`access.process_policy`), which in the studio and
in the jobs it launches is the studio's -- never the command line's.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..access import AccessPolicy, process_policy
from ..errors import first_line
from .families import family_of, tiny_model
from .local import LoadedModel
from .remote import RemoteModel
from .specs import (
    AdapterSpec,
    HubOrFolderSpec,
    ModelSpec,
    OriginalLlavaSpec,
    RemoteSpec,
    TinySpec,
    loader_name,
    parse_spec,
)
from .types import ADAPTER_NAME, BASE_ROW, ChatModel, LoadOptions, ModelLoadError

__all__ = ["ADAPTER_NAME", "BASE_ROW", "LoadOptions", "LoadedModel", "ModelLoadError", "attach_adapter",
           "load_model", "trained_marker"]


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.disable_progress_bar()  # "Loading weights" bars belong in a terminal, not in the studio's log


def choose_device_dtype(options: LoadOptions):
    import torch

    device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r}: no CUDA GPU is available here; use --device cpu")
    if options.dtype:
        dtype = getattr(torch, options.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ModelLoadError(f"unknown dtype {options.dtype!r}; use bfloat16, float16 or float32")
    else:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    return device, dtype


def _prepare(model, processor, device, dtype) -> None:
    model.to(device=device, dtype=dtype).eval()
    if str(device) == "cpu":
        # Weights memory-mapped from safetensors sit at unaligned offsets, which sends CPU kernels down other
        # SIMD paths (last-bit differences between a model and its reloaded copy): own aligned copies instead.
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.data_ptr() % 64:
                tensor.data = tensor.data.clone()
    tokenizer = getattr(processor, "tokenizer", processor)
    tokenizer.padding_side = "left"  # batched generation and rating pad on the left
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def source_model_type(source: str) -> str | None:
    """config.json's model_type of a folder or a cached hub id, read as data (no checkpoint code runs)."""
    from transformers import PretrainedConfig

    try:
        config, _ = PretrainedConfig.get_config_dict(source, local_files_only=True)
    except (OSError, ValueError):
        return None
    return config.get("model_type")


def trained_marker(folder: Path) -> dict:
    """Models the project saves carry qinstruct.json ({"label", "trained"})."""
    marker = folder / "qinstruct.json"
    try:
        data = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_tiny(spec: TinySpec, options: LoadOptions, policy: AccessPolicy) -> LoadedModel:
    model, processor = tiny_model(spec.family, spec.seed)
    device, dtype = choose_device_dtype(options)
    _prepare(model, processor, device, dtype)
    return LoadedModel(spec.text, model, processor, family_of(model.config.model_type),
                       f"{spec.text} (untrained: random weights)", trained=False, rating_prompt=options.rating_prompt)


def load_transformers(source: str, options: LoadOptions, label_spec: str) -> LoadedModel:
    from transformers import AutoConfig, AutoModelForImageTextToText

    from . import micro, owl2  # noqa: F401 - registered with the Auto classes before any config is read
    from .processors import load_processor

    device, dtype = choose_device_dtype(options)
    local = Path(source).is_dir()
    # mPLUG-Owl2 is built in: its checkpoints' own code (written for transformers 4.3x) is never run
    trust = options.trust_remote_code and source_model_type(source) != "mplug_owl2"
    try:
        # a hub id loads from the local cache only: nothing is downloaded while the studio or a job runs
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust, local_files_only=True)
        processor = load_processor(source, config.model_type, trust)
        model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype, trust_remote_code=trust,
                                                            local_files_only=True)
    except ModelLoadError:
        raise
    except OSError as error:
        if local:
            raise ModelLoadError(f"{label_spec}: cannot load ({first_line(error)})") from error
        raise ModelLoadError(f"{label_spec}: not in the local Hugging Face cache (nothing is downloaded while the "
                             f"studio runs); fetch it first, e.g. `hf download {source}`") from error
    except Exception as error:  # transformers raises many kinds; the user needs one line, not a traceback
        raise ModelLoadError(f"{label_spec}: cannot load ({first_line(error)})") from error
    try:
        _prepare(model, processor, device, dtype)
    except RuntimeError as error:
        if "out of memory" in str(error).lower():
            raise ModelLoadError(f"{label_spec}: out of memory on {device}") from error
        raise
    info = trained_marker(Path(source))
    return LoadedModel(label_spec, model, processor, family_of(config.model_type),
                       info.get("label", label_spec), trained=info.get("trained", True),
                       rating_prompt=options.rating_prompt)


def load_folder(spec: HubOrFolderSpec, options: LoadOptions, policy: AccessPolicy) -> LoadedModel:
    return load_transformers(spec.source, options, spec.text)


def load_original(spec: OriginalLlavaSpec, options: LoadOptions, policy: AccessPolicy) -> LoadedModel:
    from .llava_original import converted_path

    return load_transformers(converted_path(spec.folder, options.cache_dir), options, spec.text)


def read_non_lora_trainables(path: Path) -> dict:
    """The file as {name: tensor}, or one ModelLoadError naming the file.  weights_only: a pickle of anything
    but tensors and plain containers is refused unread, so nothing in the file runs."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # damaged data fails inside the unpickler or the zip reader in many ways
        if "Weights only load failed" in str(error):
            raise ModelLoadError(f"{path}: not a state dict of tensors: it pickles Python objects a weights-only "
                                 "load refuses (nothing in it was run)") from error
        raise ModelLoadError(f"{path}: not a readable state dict of tensors: truncated, or not written by "
                             f"torch.save ({first_line(error)})") from error
    if not isinstance(state, dict):
        raise ModelLoadError(f"{path}: not a state dict of tensors (name -> tensor): it holds "
                             f"{type(state).__name__}, not a dict")
    wrong = next(((key, value) for key, value in state.items()
                  if not isinstance(key, str) or not isinstance(value, torch.Tensor)), None)
    if wrong is not None:
        raise ModelLoadError(f"{path}: not a state dict of tensors (name -> tensor): {wrong[0]!r} maps to "
                             f"{type(wrong[1]).__name__}, not a tensor")
    return state


def load_non_lora_trainables(base: LoadedModel, adapter_path: str) -> int:
    """A LLaVA-style LoRA release (DeQA-Score's LoRA variant) keeps the weights it trained in full (mPLUG-Owl2's
    abstractor, LLaVA's projector) in non_lora_trainables.bin, named as its PeftModel saw them: written into the
    base before the adapter, as the original builder does.  Returns how many tensors; a name the base does not
    have, or a shape other than the base's, is an error, not a silent skip (nor a silent broadcast)."""
    import torch

    from .specs import NON_LORA_FILE

    path = Path(adapter_path) / NON_LORA_FILE
    if not path.is_file():
        return 0
    state = {key.removeprefix("base_model."): value for key, value in read_non_lora_trainables(path).items()}
    if any(key.startswith("model.model.") for key in state):
        state = {key.removeprefix("model."): value for key, value in state.items()}
    own = base.model.state_dict()
    unknown = sorted(key for key in state if key not in own)
    if unknown:
        raise ModelLoadError(f"{adapter_path}: {NON_LORA_FILE} has weights its base {base.spec} does not, e.g. "
                             f"{', '.join(unknown[:3])}")
    misfit = next((key for key, value in state.items() if value.shape != own[key].shape), None)
    if misfit is not None:
        raise ModelLoadError(f"{adapter_path}: {NON_LORA_FILE} does not fit its base {base.spec}: {misfit} is "
                             f"{tuple(state[misfit].shape)}, the base's is {tuple(own[misfit].shape)}")
    with torch.no_grad():
        for key, value in state.items():
            own[key].copy_(value.to(own[key].dtype))
    return len(state)


def attach_adapter(base: LoadedModel, adapter_path: str, name: str = ADAPTER_NAME):
    """Wrap the base model (in place) in a PeftModel holding the adapter; returns the PeftModel."""
    from peft import PeftModel

    load_non_lora_trainables(base, adapter_path)

    try:
        # the adapter in the base dtype (peft would upcast bf16 adapters to fp32: slower, and only useful to train)
        return PeftModel.from_pretrained(base.model, adapter_path, adapter_name=name, autocast_adapter_dtype=False)
    except Exception as error:  # peft reports shape mismatches and missing modules in many ways
        raise ModelLoadError(f"{adapter_path}: adapter does not fit its base {base.spec} "
                             f"({first_line(error)})") from error


def adapter_label(spec: AdapterSpec) -> tuple[str, bool]:
    info = trained_marker(Path(spec.folder))
    return info.get("label", f"{spec.text} (LoRA on {spec.base.text})"), info.get("trained", True)


def load_adapter(spec: AdapterSpec, options: LoadOptions, policy: AccessPolicy) -> LoadedModel:
    base = load_spec(spec.base, options, policy)
    if not isinstance(base, LoadedModel):
        raise ModelLoadError(f"{spec.text}: a LoRA adapter needs local base weights, not {spec.base.text}")
    peft_model = attach_adapter(base, spec.folder)
    label, trained = adapter_label(spec)
    return LoadedModel(spec.text, peft_model, base.processor, base.family, label, trained=trained,
                       adapter=ADAPTER_NAME, base_spec=spec.base.text, rating_prompt=base.rating_prompt)


def load_remote(spec: RemoteSpec, options: LoadOptions, policy: AccessPolicy) -> RemoteModel:
    policy.keys.check(spec.base_url)
    return RemoteModel(spec.text, spec.model, spec.base_url, key_policy=policy.keys)


def load_spec(spec: ModelSpec, options: LoadOptions, policy: AccessPolicy | None = None) -> ChatModel:
    policy = policy or process_policy()
    if options.trust_remote_code and not policy.may_trust(spec.text):
        raise ModelLoadError(f"{spec.text}: trust_remote_code is not allowed for this model here (the operator "
                             "allows it only for the specs given with --trust-remote-code)")
    _quiet_transformers()
    return globals()[loader_name(spec)](spec, options, policy)  # the spec kinds' table names each loader


def load_model(spec: str | ModelSpec, options: LoadOptions | None = None,
               policy: AccessPolicy | None = None) -> ChatModel:
    """Parse (if needed) and load a spec: a LoadedModel or a RemoteModel, both ChatModels."""
    options, policy = options or LoadOptions(), policy or process_policy()
    return load_spec(spec if isinstance(spec, ModelSpec) else parse_spec(spec, policy), options, policy)
