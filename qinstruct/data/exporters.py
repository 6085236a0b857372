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
from pathlib import Path
from typing import Any

from .records import IMAGE_TOKENS, InstructionItem

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


def export_instructions(items: list[InstructionItem], out_dir: str | Path, target: str, name: str = "qinstruct",
                        image_prefix: str = "") -> list[Path]:
    """Write `items` in the target format into out_dir; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if target == "llamafactory":
        data_file = out_dir / f"{name}.json"
        data_file.write_text(json.dumps([to_llamafactory(i, image_prefix) for i in items], ensure_ascii=False,
                                        indent=1))
        info_file = out_dir / "dataset_info.json"
        info = json.loads(info_file.read_text()) if info_file.exists() else {}
        info.update(llamafactory_dataset_info(name, data_file.name))
        info_file.write_text(json.dumps(info, indent=2))
        return [data_file, info_file]
    if target == "trl":
        data_file = out_dir / f"{name}.jsonl"
        data_file.write_text("".join(json.dumps(to_trl(i, image_prefix), ensure_ascii=False) + "\n" for i in items))
        return [data_file]
    if target == "llava":
        data_file = out_dir / f"{name}.json"
        data_file.write_text(json.dumps([i.to_json() for i in items], ensure_ascii=False, indent=1))
        return [data_file]
    raise ValueError(f"unknown export target {target!r}; use llamafactory, trl or llava")
