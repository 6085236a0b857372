"""Q-Instruct / LLaVA instruction JSON -> the formats other trainers read.

* LLaMA-Factory, ShareGPT style: a JSON list of {"messages": [{"role", "content"}...], "images": [path]} with one
  `<image>` placeholder per image in the text, plus the `dataset_info.json` entry that declares the columns.
* TRL (SFTTrainer with a vision processor): JSON Lines of {"messages": [{"role", "content": [{"type": "image"},
  {"type": "text", "text"}]}], "images": [path]}, the image placed where its token was.

The image token may be `<image>` (LLaVA) or `<|image|>` (mPLUG-Owl-2); both are recognised.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..fileio import write_json, write_json_list, write_jsonl
from .records import IMAGE_TOKENS, InstructionItem

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")

_TOKEN = re.compile("|".join(re.escape(t) for t in IMAGE_TOKENS))
_ROLE = {"human": "user", "gpt": "assistant"}


def _image_path(item: InstructionItem, image_prefix: str) -> list[str]:
    if item.image is None:
        return []
    return [f"{image_prefix.rstrip('/')}/{item.image}" if image_prefix else item.image]


def to_llamafactory(item: InstructionItem, image_prefix: str = "") -> dict[str, Any]:
    messages = []
    for turn in item.conversations:
        text = _TOKEN.sub("<image>", turn.value)
        messages.append({"role": _ROLE[turn.role], "content": text})
    images = _image_path(item, image_prefix)
    placeholders = sum(m["content"].count("<image>") for m in messages)
    if images and placeholders == 0:
        messages[0]["content"] = "<image>" + messages[0]["content"]  # LLaMA-Factory needs one per image
    return {"messages": messages, "images": images} if images else {"messages": messages}


def llamafactory_dataset_info(name: str, file_name: str) -> dict[str, Any]:
    return {name: {"file_name": file_name, "formatting": "sharegpt",
                   "columns": {"messages": "messages", "images": "images"},
                   "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                            "assistant_tag": "assistant"}}}


def _trl_content(text: str) -> list[dict[str, str]]:
    content: list[dict[str, str]] = []
    for k, piece in enumerate(_TOKEN.split(text)):
        if k:
            content.append({"type": "image"})
        piece = piece.strip("\n")
        if piece:
            content.append({"type": "text", "text": piece})
    return content


def to_trl(item: InstructionItem, image_prefix: str = "") -> dict[str, Any]:
    messages = [{"role": _ROLE[t.role], "content": _trl_content(t.value)} for t in item.conversations]
    images = _image_path(item, image_prefix)
    if images and not any(c["type"] == "image" for m in messages for c in m["content"]):
        messages[0]["content"].insert(0, {"type": "image"})
    return {"messages": messages, "images": images}


# items come as an iterable read from the file as the export writes (the release: 200K items, never held whole)
ExportFunction = Callable[[Iterable[InstructionItem], Path, str, str], list[Path]]
_EXPORTERS: dict[str, tuple[ExportFunction, str]] = {}


def register_exporter(name: str, description: str):
    def decorate(function: ExportFunction) -> ExportFunction:
        _EXPORTERS[name] = (function, description)
        return function
    return decorate


def list_exporters() -> list[str]:
    return list(_EXPORTERS)


def exporters_help() -> str:
    """`name: what it writes` for every exporter, for help texts and forms."""
    return "; ".join(f"{name}: {description}" for name, (_, description) in _EXPORTERS.items())


@register_exporter("llava", "Q-Instruct / LLaVA JSON (the official training scripts)")
def _export_llava(items, out_dir: Path, name: str, image_prefix: str) -> list[Path]:
    def rows():
        for item in items:
            row = item.to_json()
            if image_prefix and item.image:
                row["image"] = _image_path(item, image_prefix)[0]
            yield row

    path = out_dir / f"{name}.json"
    write_json_list(path, rows())
    return [path]


@register_exporter("llamafactory", "LLaMA-Factory ShareGPT JSON + dataset_info.json")
def _export_llamafactory(items, out_dir: Path, name: str, image_prefix: str) -> list[Path]:
    data_file = out_dir / f"{name}.json"
    write_json_list(data_file, (to_llamafactory(i, image_prefix) for i in items))
    info_file = out_dir / "dataset_info.json"
    try:
        info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.exists() else {}
    except ValueError:
        info = {}  # a broken dataset_info.json is rewritten with this dataset's entry
    info.update(llamafactory_dataset_info(name, data_file.name))
    return [data_file, write_json(info_file, info, indent=2)]


@register_exporter("trl", "TRL SFTTrainer JSON Lines (messages with image placeholders)")
def _export_trl(items, out_dir: Path, name: str, image_prefix: str) -> list[Path]:
    return [write_jsonl(out_dir / f"{name}.jsonl", (to_trl(i, image_prefix) for i in items))]


def check_dataset_name(name: str) -> str:
    """A dataset name becomes a file name inside the output folder: no folders, no '..'."""
    if not name or name != Path(name).name or name.startswith(".") or not _NAME.fullmatch(name):
        raise ConfigError(f"dataset name {name!r}: use letters, digits, '.', '_' or '-' (it becomes a file name "
                          "inside the output folder)")
    return name


def export_instructions(items: Iterable[InstructionItem], out_dir: str | Path, target: str, name: str = "qinstruct",
                        image_prefix: str = "") -> list[Path]:
    """Write `items` in the target format into out_dir, each file atomically; returns the files written."""
    if target not in _EXPORTERS:
        raise ConfigError(f"unknown export format {target!r}; known: {', '.join(_EXPORTERS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _EXPORTERS[target][0](items, out_dir, check_dataset_name(name), image_prefix)
