"""Model specs -> loaded models.

A spec is one string, as typed in the Chat tab or on the command line:

  tiny:llava | tiny:qwen2-vl | tiny:idefics3 [@SEED]   a tiny random model built in-process (untrained)
  openai:MODEL[@BASE_URL]                               a remote OpenAI-compatible endpoint (see remote.py)
  DIR with adapter_config.json                          a LoRA adapter on its base (tuned = base + adapter)
  DIR with mm_vision_tower / mm_projector_type          an original-LLaVA checkpoint, converted once and cached
  DIR or HUB_ID                                         a transformers checkpoint (AutoModelForImageTextToText)

Weights load on the GPU in bf16 when there is one, else on the CPU in fp32.  trust_remote_code is passed only
when the caller asks (needed by mPLUG-Owl-2 / InternLM-XComposer checkpoints; see README).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .families import GENERIC, Family, family_of, tiny_model


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.disable_progress_bar()  # "Loading weights" bars belong in a terminal, not in the studio's log

ADAPTER_NAME = "tuned"
BASE_ROW = "__base__"  # peft's row name for "no adapter" in a mixed batch


class ModelLoadError(RuntimeError):
    """One line a user can act on: what failed to load and why."""


@dataclass
class LoadOptions:
    device: str | None = None  # "cuda", "cpu", ... (default: cuda if available)
    dtype: str | None = None  # "bfloat16", "float32", ... (default: bf16 on GPU, fp32 on CPU)
    trust_remote_code: bool = False
    cache_dir: str | None = None  # where converted original-LLaVA checkpoints are kept


@dataclass
class LoadedModel:
    spec: str
    model: Any
    processor: Any
    family: Family
    label: str
    trained: bool = True
    adapter: str | None = None  # the LoRA adapter this side uses inside a PeftModel (None: the base)
    base_spec: str | None = None  # for adapters: the base they sit on
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def tokenizer(self):
        return getattr(self.processor, "tokenizer", self.processor)

    @property
    def is_remote(self) -> bool:
        return False


def choose_device_dtype(options: LoadOptions):
    import torch

    device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if options.dtype:
        dtype = getattr(torch, options.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ModelLoadError(f"unknown dtype {options.dtype!r}; use bfloat16, float16 or float32")
    else:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    return device, dtype


def spec_kind(spec: str) -> str:
    if spec.startswith("tiny:"):
        return "tiny"
    if spec.startswith("openai:"):
        return "remote"
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / "adapter_config.json").is_file():
            return "adapter"
        config = path / "config.json"
        if config.is_file():
            try:
                keys = json.loads(config.read_text())
            except ValueError:
                raise ModelLoadError(f"{config}: not valid JSON") from None
            if "mm_vision_tower" in keys or "mm_projector_type" in keys:
                return "llava-original"
        return "hf"
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ModelLoadError(f"{spec}: no such model folder")
    return "hf"  # a hub id; offline, it must already be in the local cache


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


def load_tiny(spec: str, options: LoadOptions) -> LoadedModel:
    name, _, seed = spec[len("tiny:"):].partition("@")
    try:
        model, processor = tiny_model(name, int(seed or 0))
    except (KeyError, ValueError) as error:
        raise ModelLoadError(f"{spec}: {error}") from None
    device, dtype = choose_device_dtype(options)
    _prepare(model, processor, device, dtype)
    return LoadedModel(spec, model, processor, family_of(model.config.model_type),
                       f"{spec} (untrained: random weights)", trained=False)


def load_hf(path: str, options: LoadOptions, spec: str | None = None) -> LoadedModel:
    from transformers import AutoConfig, AutoModelForImageTextToText

    from .processors import load_processor

    device, dtype = choose_device_dtype(options)
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=options.trust_remote_code)
        processor = load_processor(path, config.model_type, options.trust_remote_code)
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype,
                                                            trust_remote_code=options.trust_remote_code)
    except ModelLoadError:
        raise
    except Exception as error:  # transformers raises many kinds; the user needs one line, not a traceback
        raise ModelLoadError(f"{spec or path}: cannot load ({_first_line(error)})") from error
    try:
        _prepare(model, processor, device, dtype)
    except RuntimeError as error:
        if "out of memory" in str(error).lower():
            raise ModelLoadError(f"{spec or path}: out of memory on {device}") from error
        raise
    info = trained_marker(Path(path))
    return LoadedModel(spec or path, model, processor, family_of(config.model_type),
                       info.get("label", spec or path), trained=info.get("trained", True))


def trained_marker(folder: Path) -> dict:
    """Models the project saves carry qinstruct.json ({"label", "trained"}), e.g. the demo's stand-ins."""
    marker = folder / "qinstruct.json"
    try:
        return json.loads(marker.read_text()) if marker.is_file() else {}
    except ValueError:
        return {}


def adapter_base(path: str) -> str:
    config = json.loads((Path(path) / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"{path}: adapter_config.json names no base_model_name_or_path")
    if not Path(base).is_absolute() and (Path(path) / base).exists():
        base = str((Path(path) / base).resolve())  # a base path relative to the adapter folder
    return base


def attach_adapter(base: LoadedModel, adapter_path: str, name: str = ADAPTER_NAME):
    """Wrap the base model (in place) in a PeftModel holding the adapter; returns the PeftModel."""
    from peft import PeftModel

    try:
        # the adapter in the base dtype (peft would upcast bf16 adapters to fp32: slower, and only useful to train)
        return PeftModel.from_pretrained(base.model, adapter_path, adapter_name=name, autocast_adapter_dtype=False)
    except Exception as error:  # peft reports shape mismatches and missing modules in many ways
        raise ModelLoadError(f"{adapter_path}: adapter does not fit its base {base.spec} "
                             f"({_first_line(error)})") from error


def load_adapter(path: str, options: LoadOptions) -> LoadedModel:
    base_spec = adapter_base(path)
    base = load_model(base_spec, options)
    peft_model = attach_adapter(base, path)
    info = trained_marker(Path(path))
    label = info.get("label", f"{path} (LoRA on {base_spec})")
    return LoadedModel(path, peft_model, base.processor, base.family, label, trained=info.get("trained", True),
                       adapter=ADAPTER_NAME, base_spec=base_spec)


def load_model(spec: str, options: LoadOptions | None = None):
    """Resolve a spec and load it: a LoadedModel, or a RemoteModel for openai: specs."""
    options = options or LoadOptions()
    _quiet_transformers()
    spec = spec.strip()
    if not spec:
        raise ModelLoadError("empty model spec")
    kind = spec_kind(spec)
    if kind == "tiny":
        return load_tiny(spec, options)
    if kind == "remote":
        from .remote import RemoteModel

        return RemoteModel.from_spec(spec)
    if kind == "adapter":
        return load_adapter(spec, options)
    if kind == "llava-original":
        from .llava_original import converted_path

        return load_hf(converted_path(spec, options.cache_dir), options, spec=spec)
    return load_hf(spec, options)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


__all__ = ["ADAPTER_NAME", "GENERIC", "LoadOptions", "LoadedModel", "ModelLoadError", "adapter_base",
           "attach_adapter", "load_model", "spec_kind"]
