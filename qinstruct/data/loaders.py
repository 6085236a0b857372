"""Loaders and validators for every format.  Every error names the file, the item (index, or line for JSONL)
and the field; with skip_invalid=True the valid items load and the errors are reported, not raised.

Layouts read: a JSON list, JSON Lines, or concatenated JSON objects (`}{`, Q-Bench output files).  Which
layouts a format accepts is part of its validator: a `}{`-joined MOS list is an error, not a guess.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..errors import UserError
from .records import (
    IMAGE_TOKENS,
    QUESTION_CONCERNS,
    QUESTION_TYPES,
    InstructionItem,
    LLVisionQAItem,
    MosItem,
    PathwayRecord,
    QBenchOutput,
    Turn,
)

T = TypeVar("T")
LIST, JSONL, CONCATENATED = "JSON list", "JSON Lines", "concatenated JSON objects (}{)"


class DataError(UserError, ValueError):
    """A data problem located as precisely as we can: file, item index or line, field."""

    def __init__(self, path: str | Path, message: str, *, index: int | None = None, line: int | None = None,
                 field: str | None = None):
        self.path, self.message, self.index, self.line, self.field = str(path), message, index, line, field
        where = [self.path]
        if index is not None:
            where.append(f"item {index}" + (f" (line {line})" if line is not None else ""))
        elif line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(": ".join(where) + f": {message}")


class ItemError(ValueError):
    """Raised by a validator for one item; the loader adds file and position."""

    def __init__(self, field: str | None, message: str):
        self.field, self.message = field, message
        super().__init__(message)


@dataclass
class LoadResult(Generic[T]):
    path: Path
    items: list[T]
    total: int  # items in the file, valid or not
    layout: str
    errors: list[DataError] = field(default_factory=list)  # skipped items (skip_invalid=True)
    missing_images: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.path}: {len(self.items)} of {self.total} items valid ({self.layout})"
        if self.errors:
            text += f"; {len(self.errors)} skipped, first: {self.errors[0]}"
        if self.missing_images:
            examples = ", ".join(self.missing_images[:3])
            text += f"; {len(self.missing_images)} image file(s) missing, e.g. {examples}"
        return text


# ----------------------------------------------------------------------------------------------- reading


MAX_FILE_BYTES = 1 << 30  # 1 GiB: far above the real Q-Instruct release (~0.2 GB); beyond, a file is refused


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise DataError(path, "is a folder, not a data file")
        if size > MAX_FILE_BYTES:
            raise DataError(path, f"{size / 1e6:,.0f} MB, over the {MAX_FILE_BYTES / 1e6:,.0f} MB a data file may be "
                            "(split it, or keep one source per file)")
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except UnicodeDecodeError as error:
        raise DataError(path, f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise DataError(path, f"cannot read ({error.strerror or error})") from None


def read_json_objects(path: str | Path) -> tuple[list[tuple[Any, int | None]], str]:
    """Parse a file into (object, line-or-None) pairs and name its layout."""
    path = Path(path)
    try:
        return _parse_objects(path, _read_text(path))
    except RecursionError:
        raise DataError(path, "JSON nested too deeply to read") from None


def _parse_objects(path: Path, text: str) -> tuple[list[tuple[Any, int | None]], str]:
    stripped = text.strip()
    if not stripped:
        raise DataError(path, "empty file")
    if stripped[0] == "[":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(path, f"bad JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
        if not isinstance(data, list):
            raise DataError(path, "expected a JSON list")
        return [(item, None) for item in data], LIST
    decoder = json.JSONDecoder()
    objects: list[tuple[Any, int | None]] = []
    position, line, abutting = 0, 1, False
    length = len(text)
    while True:
        start = position
        while position < length and text[position] in " \t\r\n":
            position += 1
        line += text.count("\n", start, position)
        if position >= length:
            break
        if objects and position == start:
            abutting = True  # `}{`: no whitespace between two objects
        try:
            obj, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise DataError(path, f"bad JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
        objects.append((obj, line))
        line += text.count("\n", position, end)
        position = end
    if len(objects) == 1 and isinstance(objects[0][0], dict):
        # a single JSON object: either a one-line JSONL file or a dict wrapper such as {"data": [...]}
        return objects, JSONL
    return objects, CONCATENATED if abutting else JSONL


def _load(path: str | Path, validate: Callable[[Any], T], layouts: set[str], skip_invalid: bool,
          expected: str) -> LoadResult[T]:
    path = Path(path)
    objects, layout = read_json_objects(path)
    if layout not in layouts:
        hint = " (that is the Q-Bench output layout)" if layout == CONCATENATED else ""
        raise DataError(path, f"file is {layout}{hint}; {expected} files are {' or '.join(sorted(layouts))}")
    result: LoadResult[T] = LoadResult(path, [], len(objects), layout)
    for index, (obj, line) in enumerate(objects):
        try:
            if not isinstance(obj, dict):
                raise ItemError(None, f"expected an object, got {type(obj).__name__}")
            result.items.append(validate(obj))
        except ItemError as error:
            problem = DataError(path, error.message, index=index, line=line, field=error.field)
            if not skip_invalid:
                raise problem from None
            result.errors.append(problem)
    return result


# ----------------------------------------------------------------------------------------------- checks


def _string(obj: dict, key: str, required: bool = True) -> str | None:
    if key not in obj:
        if required:
            raise ItemError(key, "missing")
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise ItemError(key, f"expected a string, got {type(value).__name__} {value!r:.40}")
    return value


def _number(obj: dict, key: str, allow_string: bool = False) -> float:
    if key not in obj:
        raise ItemError(key, "missing")
    value = obj[key]
    if isinstance(value, str) and allow_string:
        try:
            value = float(value.strip())
        except ValueError:
            raise ItemError(key, f"not a number: {value!r:.40}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ItemError(key, f"expected a number, got {type(value).__name__} {value!r:.40}")
    if not math.isfinite(value):
        raise ItemError(key, f"not a finite number: {value}")
    return float(value)


def _code(obj: dict, key: str, names: dict[int, str]) -> int:
    """An integer code, or its name (case-insensitive) as some exports write it."""
    if key not in obj:
        raise ItemError(key, "missing")
    value = obj[key]
    if isinstance(value, str):
        by_name = {name.lower(): code for code, name in names.items()}
        stripped = value.strip()
        if stripped.isdigit():
            value = int(stripped)
        elif stripped.lower() in by_name:
            return by_name[stripped.lower()]
    if isinstance(value, bool) or not isinstance(value, int) or value not in names:
        known = ", ".join(f"{code}={name}" for code, name in names.items())
        raise ItemError(key, f"unknown code {value!r}; expected one of {known}")
    return value


# ----------------------------------------------------------------------------------------------- formats

_ROLES = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt"}
_INSTRUCTION_KEYS = {"id", "image", "conversations"}


def validate_instruction(obj: dict) -> InstructionItem:
    if "id" not in obj:
        raise ItemError("id", "missing")
    item_id = obj["id"]
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
        raise ItemError("id", f"expected a string or integer, got {type(item_id).__name__}")
    image = _string(obj, "image", required=False)
    conversations = obj.get("conversations")
    if not isinstance(conversations, list) or not conversations:
        raise ItemError("conversations", "missing or not a non-empty list")
    turns = []
    for i, turn in enumerate(conversations):
        if not isinstance(turn, dict):
            raise ItemError(f"conversations[{i}]", "expected an object with 'from' and 'value'")
        role, value = turn.get("from"), turn.get("value")
        if role not in _ROLES:
            raise ItemError(f"conversations[{i}].from", f"expected human or gpt, got {role!r}")
        if not isinstance(value, str):
            raise ItemError(f"conversations[{i}].value", f"expected a string, got {type(value).__name__}")
        turns.append(Turn(_ROLES[role], value))
    if turns[0].role != "human":
        raise ItemError("conversations[0].from", "a conversation starts with a human turn")
    if image is not None and not any(token in turns[0].value for token in IMAGE_TOKENS):
        raise ItemError("conversations[0].value", "the first human turn has no <image> (or <|image|>) token")
    if not any(turn.role == "gpt" for turn in turns):
        raise ItemError("conversations", "no answer (gpt) turn: there is nothing to learn from this item")
    meta = {k: v for k, v in obj.items() if k not in _INSTRUCTION_KEYS}
    return InstructionItem(str(item_id), image, turns, meta)


_SHAREGPT_ROLES = {"user": "human", "human": "human", "assistant": "gpt", "gpt": "gpt"}


def validate_sharegpt(obj: dict) -> InstructionItem:
    """LLaMA-Factory's ShareGPT layout ({"messages": [{"role", "content"}], "images": [path]}) as an instruction
    item; a system message is kept in meta, one image per item (the first)."""
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ItemError("messages", "missing or not a non-empty list")
    turns, system = [], None
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise ItemError(f"messages[{i}]", "expected an object with 'role' and a string 'content'")
        role = message.get("role")
        if role == "system":
            system = message["content"]
            continue
        if role not in _SHAREGPT_ROLES:
            raise ItemError(f"messages[{i}].role", f"expected user or assistant, got {role!r}")
        turns.append(Turn(_SHAREGPT_ROLES[role], message["content"]))
    if not turns or turns[0].role != "human":
        raise ItemError("messages", "a conversation starts with a user message")
    images = obj.get("images") or []
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise ItemError("images", "expected a list of paths")
    image = images[0] if images else None
    if image is not None and not any(token in turns[0].value for token in IMAGE_TOKENS):
        turns[0] = Turn("human", "<image>" + turns[0].value)
    meta = {"system": system} if system else {}
    return InstructionItem(str(obj.get("id", "")), image, turns, meta)


def validate_pathway(obj: dict) -> PathwayRecord:
    image = _string(obj, "image")
    source = _string(obj, "source")
    if "mos" not in obj:
        raise ItemError("mos", "missing (use null when unknown)")
    mos = None if obj["mos"] is None else _number(obj, "mos")
    if mos is not None and not 0 <= mos <= 100:
        raise ItemError("mos", f"{mos} is outside [0, 100]; rescale the source first")
    feedbacks = obj.get("feedbacks")
    if not isinstance(feedbacks, list) or not all(isinstance(f, str) for f in feedbacks):
        raise ItemError("feedbacks", "expected a list of strings")
    meta = {k: v for k, v in obj.items() if k not in {"image", "source", "mos", "feedbacks"}}
    return PathwayRecord(image, source, mos, feedbacks, meta)


def validate_mos(obj: dict) -> MosItem:
    return MosItem(_string(obj, "img_path"), _number(obj, "gt_score", allow_string=True))


def validate_qbench_output(obj: dict) -> QBenchOutput:
    logits = {k[len("logit_"):]: _number(obj, k) for k in obj if k.startswith("logit_")}
    if not logits:
        raise ItemError("logit_*", "no logit_ fields (e.g. logit_good, logit_poor)")
    return QBenchOutput(_string(obj, "img_path"), _number(obj, "gt_score", allow_string=True), logits)


def validate_llvisionqa(obj: dict) -> LLVisionQAItem:
    if "candidates" not in obj and any(f"option{i}" in obj for i in range(4)):
        return _validate_llvisionqa_hf(obj)
    candidates = obj.get("candidates")
    if not isinstance(candidates, list) or not 2 <= len(candidates) <= 4 or not all(
            isinstance(c, str) for c in candidates):
        raise ItemError("candidates", "expected a list of 2 to 4 strings")
    correct = _string(obj, "correct_ans")
    if correct not in candidates:
        raise ItemError("correct_ans", f"{correct!r} is not among the candidates {candidates}")
    known = {"img_path", "question", "candidates", "correct_ans", "type", "concern", "image1", "image2"}
    first, second = _question_images(obj)
    return LLVisionQAItem(first, _string(obj, "question"), candidates, correct,
                          _code(obj, "type", QUESTION_TYPES), _code(obj, "concern", QUESTION_CONCERNS),
                          {k: v for k, v in obj.items() if k not in known}, pair_path=second)


def _question_images(obj: dict) -> tuple[str, str | None]:
    """A question's image, or its two (a pair question): img_path as a string, or a list of two paths, or
    image1 + image2 (Q-Bench2's Hugging Face rows)."""
    if "image1" in obj and "img_path" not in obj:
        return _string(obj, "image1"), _string(obj, "image2")
    paths = obj.get("img_path")
    if isinstance(paths, list):
        if len(paths) != 2 or not all(isinstance(p, str) and p.strip() for p in paths):
            raise ItemError("img_path", "a pair question names exactly two image paths")
        return paths[0], paths[1]
    return _string(obj, "img_path"), None


def _validate_llvisionqa_hf(obj: dict) -> LLVisionQAItem:
    """The Hugging Face rows variant: option0..3 (absent, null, "" or "N/A" when unused), correct_choice as a
    letter (or index), question_type, question_concern, and img_path or image (a path)."""
    candidates = [obj.get(f"option{i}") for i in range(4)]
    candidates = [c for c in candidates if isinstance(c, str) and c.strip() and c.strip().upper() != "N/A"]
    if len(candidates) < 2:
        raise ItemError("option0", "fewer than two options")
    choice = obj.get("correct_choice")
    if isinstance(choice, str) and len(choice.strip()) == 1 and choice.strip().upper() in "ABCD":
        index = "ABCD".index(choice.strip().upper())
    elif isinstance(choice, int) and not isinstance(choice, bool):
        index = choice
    else:
        raise ItemError("correct_choice", f"expected a letter A-D, got {choice!r}")
    if not 0 <= index < len(candidates):
        raise ItemError("correct_choice", f"{choice!r} points past the {len(candidates)} options")
    image_key = "img_path" if "img_path" in obj else "image"
    known = {"img_path", "image", "question", "correct_choice", "question_type", "question_concern"}
    known |= {f"option{i}" for i in range(4)}
    return LLVisionQAItem(_string(obj, image_key), _string(obj, "question"), candidates, candidates[index],
                          _code(obj, "question_type", QUESTION_TYPES),
                          _code(obj, "question_concern", QUESTION_CONCERNS),
                          {k: v for k, v in obj.items() if k not in known})


# ----------------------------------------------------------------------------------------------- loaders


def check_images(paths: Iterable[str], image_root: str | Path) -> list[str]:
    """Image paths (relative to image_root) that do not exist, in order, each once.  Under a studio's policy a
    path outside what it may read counts as missing whether it exists or not (no existence oracle)."""
    from ..access import AccessDenied, process_policy

    root, policy = Path(image_root), process_policy()
    seen, missing = set(), []
    for rel in paths:
        if rel in seen:
            continue
        seen.add(rel)
        try:
            found = policy.data_file_path(root, rel).is_file()
        except AccessDenied:
            found = False
        if not found:
            missing.append(rel)
    return missing


def _as_paths(value) -> list[str]:
    return [p for p in (value if isinstance(value, list) else [value]) if p]


def _with_images(result: LoadResult, image_root: str | Path | None, strict: bool, attr: str) -> LoadResult:
    if image_root is None:
        return result
    paths = (path for item in result.items for path in _as_paths(getattr(item, attr)))
    result.missing_images = check_images(paths, image_root)
    if strict and result.missing_images:
        raise DataError(result.path, f"{len(result.missing_images)} image file(s) missing under {image_root}, "
                        f"e.g. {', '.join(result.missing_images[:3])}")
    return result


def load_instructions(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[InstructionItem]:
    result = _load(path, validate_instruction, {LIST, JSONL}, skip_invalid, "instruction")
    return _with_images(result, image_root, strict, "image")


def load_sharegpt(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[InstructionItem]:
    result = _load(path, validate_sharegpt, {LIST, JSONL}, skip_invalid, "ShareGPT")
    for index, item in enumerate(result.items):
        item.id = item.id or f"{Path(path).stem}-{index}"
    return _with_images(result, image_root, strict, "image")


def load_pathway(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[PathwayRecord]:
    result = _load(path, validate_pathway, {JSONL, LIST}, skip_invalid, "Q-Pathway")
    return _with_images(result, image_root, strict, "image")


def load_mos_list(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[MosItem]:
    result = _load(path, validate_mos, {LIST}, skip_invalid, "MOS list")
    return _with_images(result, image_root, strict, "img_path")


def load_qbench_outputs(path, *, skip_invalid=False) -> LoadResult[QBenchOutput]:
    return _load(path, validate_qbench_output, {CONCATENATED, JSONL, LIST}, skip_invalid, "Q-Bench output")


def load_llvisionqa(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[LLVisionQAItem]:
    result = _load(path, validate_llvisionqa, {LIST, JSONL}, skip_invalid, "LLVisionQA")
    return _with_images(result, image_root, strict, "images")


LOADERS: dict[str, Callable[..., LoadResult]] = {
    "instructions": load_instructions,
    "sharegpt": load_sharegpt,
    "pathway": load_pathway,
    "mos": load_mos_list,
    "qbench-outputs": load_qbench_outputs,
    "llvisionqa": load_llvisionqa,
}


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its first object's keys."""
    objects, _ = read_json_objects(path)
    first = objects[0][0] if objects else None
    if not isinstance(first, dict):
        raise DataError(path, "cannot tell the format: the first item is not an object")
    keys = set(first)
    if "conversations" in keys:
        return "instructions"
    if "messages" in keys:
        return "sharegpt"
    if "feedbacks" in keys:
        return "pathway"
    if any(k.startswith("logit_") for k in keys):
        return "qbench-outputs"
    if "candidates" in keys or "option0" in keys:
        return "llvisionqa"
    if {"img_path", "gt_score"} <= keys:
        return "mos"
    raise DataError(path, f"cannot tell the format from the keys {sorted(keys)}")


def load_any(path: str | Path, fmt: str | None = None, **options) -> LoadResult:
    fmt = fmt or detect_format(path)
    if fmt not in LOADERS:
        raise DataError(path, f"unknown format {fmt!r}; known: {', '.join(LOADERS)}")
    if fmt == "qbench-outputs":
        options.pop("image_root", None)
        options.pop("strict", None)
    return LOADERS[fmt](path, **options)
