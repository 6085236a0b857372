"""Model specs: the one string a user types (Chat tab, --model), parsed once into a typed spec.

SPEC_KINDS is the one table of kinds: how each is written, parsed and loaded (adding a kind touches it and the
loader it names, nothing else); it also fills the CLI help and the Chat tab's hint.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..access import AccessPolicy, process_policy
from ..endpoints import default_base_url
from .types import ModelLoadError


@dataclass(frozen=True)
class ModelSpec:
    text: str  # as the user typed it (labels, logs, the trusted list)
    kind: ClassVar[str] = ""

    @property
    def resolved(self) -> str:
        """The spec as another process in another folder reads it (a folder: its absolute path)."""
        for attribute in ("source", "folder"):
            value = getattr(self, attribute, None)
            if value and Path(value).exists():
                return str(Path(value).resolve())
        return self.text


@dataclass(frozen=True)
class TinySpec(ModelSpec):
    family: str = "llava"
    seed: int = 0
    kind: ClassVar[str] = "tiny"


@dataclass(frozen=True)
class RemoteSpec(ModelSpec):
    model: str = ""
    base_url: str = ""
    kind: ClassVar[str] = "remote"


@dataclass(frozen=True)
class HubOrFolderSpec(ModelSpec):
    source: str = ""  # a folder (resolved) or a hub id
    kind: ClassVar[str] = "hf"


@dataclass(frozen=True)
class OriginalLlavaSpec(ModelSpec):
    folder: str = ""
    kind: ClassVar[str] = "llava-original"


NON_LORA_FILE = "non_lora_trainables.bin"  # weights a LLaVA-style LoRA run trained in full (its abstractor...)


@dataclass(frozen=True)
class AdapterSpec(ModelSpec):
    folder: str = ""
    base: ModelSpec | None = None
    mixable: bool = True  # peft can batch its rows with the base's: False when it replaces whole modules
    kind: ClassVar[str] = "adapter"


@dataclass(frozen=True)
class SpecKind:
    """One kind of model spec: how it is written, how it is parsed, how each spec it parses to is loaded (the
    name of a function in models/loading.py: (spec, LoadOptions, AccessPolicy) -> ChatModel)."""
    name: str
    syntax: str
    description: str
    parse: Callable[[str, AccessPolicy], ModelSpec | None]  # None: not this kind
    loaders: dict[type, str]


def _parse_tiny(text: str, policy: AccessPolicy) -> ModelSpec | None:
    if not text.startswith("tiny:"):
        return None
    from .families import FAMILIES

    family, _, seed = text[len("tiny:"):].partition("@")
    if family not in FAMILIES:
        raise ModelLoadError(f"{text}: unknown tiny family {family!r}; known: {', '.join(FAMILIES)}")
    try:
        return TinySpec(text, family, int(seed or 0))
    except ValueError:
        raise ModelLoadError(f"{text}: the seed after @ must be an integer") from None


def _parse_remote(text: str, policy: AccessPolicy) -> ModelSpec | None:
    if not text.startswith("openai:"):
        return None
    name, _, url = text[len("openai:"):].partition("@")
    if not name:
        raise ModelLoadError(f"{text}: expected openai:MODEL[@BASE_URL]")
    url = url or default_base_url()
    if not url.startswith(("http://", "https://")):
        raise ModelLoadError(f"{text}: the base URL must start with http:// or https://")
    return RemoteSpec(text, name, url)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{path}: cannot read ({error})") from None
    except ValueError as error:
        raise ModelLoadError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return data


def _parse_folder(text: str, policy: AccessPolicy) -> ModelSpec | None:
    folder = policy.model_path(text)
    if folder is None:
        return None
    if not folder.is_dir():
        raise ModelLoadError(f"{text}: no such model folder")
    if (folder / "adapter_config.json").is_file():
        base_text = _read_json(folder / "adapter_config.json").get("base_model_name_or_path")
        if not base_text:
            raise ModelLoadError(f"{text}: adapter_config.json names no base_model_name_or_path")
        if not Path(base_text).is_absolute() and (folder / base_text).exists():
            base_text = str((folder / base_text).resolve())  # a base path relative to the adapter folder
        saved_modules = _read_json(folder / "adapter_config.json").get("modules_to_save")
        # LLaVA-style LoRA releases (DeQA-Score's) also replace base weights (non_lora_trainables.bin): their
        # base cannot serve the other side unchanged
        replaces = saved_modules or (folder / NON_LORA_FILE).is_file()
        return AdapterSpec(text, str(folder), parse_spec(base_text, policy), mixable=not replaces)
    config = folder / "config.json"
    if config.is_file():
        keys = _read_json(config)
        if "mm_vision_tower" in keys or "mm_projector_type" in keys:
            return OriginalLlavaSpec(text, str(folder))
        return HubOrFolderSpec(text, str(folder))
    raise ModelLoadError(f"{text}: not a model folder (no config.json or adapter_config.json)")


def _parse_hub(text: str, policy: AccessPolicy) -> ModelSpec | None:
    return HubOrFolderSpec(text, text)  # offline, it must already be in the local Hugging Face cache


SPEC_KINDS = [  # in the order they are tried; the table also fills the CLI help and the Chat tab's hint
    SpecKind("tiny", "tiny:llava|qwen2-vl|idefics3|mplug-owl2[@SEED]",
             "a tiny random model built in-process (untrained)", _parse_tiny, {TinySpec: "load_tiny"}),
    SpecKind("remote", "openai:MODEL[@BASE_URL]", "an OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, Ollama)",
             _parse_remote, {RemoteSpec: "load_remote"}),
    SpecKind("folder", "DIR", "a transformers checkpoint, a LoRA adapter (on its base), an original-LLaVA "
             "checkpoint (converted once) or an mPLUG-Owl2 release (One-Align, Q-Instruct-Owl2, Co-Instruct, "
             "DeQA-Score; loaded as it is)", _parse_folder,
             {HubOrFolderSpec: "load_folder", AdapterSpec: "load_adapter", OriginalLlavaSpec: "load_original"}),
    SpecKind("hub", "ORG/NAME", "a Hugging Face hub id already in the local cache", _parse_hub,
             {HubOrFolderSpec: "load_folder"}),
]


def loader_name(spec: ModelSpec) -> str:
    """The name of the function of models/loading.py that loads this spec."""
    for kind in SPEC_KINDS:
        if type(spec) in kind.loaders:
            return kind.loaders[type(spec)]
    raise ModelLoadError(f"{spec.text}: no loader for a {type(spec).__name__}")


def parse_spec(text: str, policy: AccessPolicy | None = None) -> ModelSpec:
    """Parse a spec once under `policy` (default: the process's); raises ModelLoadError (or AccessDenied) with one
    line when it cannot be used."""
    policy = policy or process_policy()
    text = (text or "").strip()
    if not text:
        raise ModelLoadError("empty model spec")
    for kind in SPEC_KINDS:
        spec = kind.parse(text, policy)
        if spec is not None:
            return spec
    raise ModelLoadError(f"{text}: not a model spec")  # unreachable: the hub kind takes anything left


def spec_help() -> str:
    return "; ".join(f"{k.syntax}: {k.description}" for k in SPEC_KINDS)


def same_weights(a: ModelSpec, b: ModelSpec) -> bool:
    return type(a) is type(b) and a.resolved == b.resolved
