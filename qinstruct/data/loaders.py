"""Loaders and validators for every format.  Every error names the file, the item (index, or line for JSONL)
and the field; with skip_invalid=True the valid items load and the errors are reported, not raised.

Layouts read (qinstruct.data.stream, item by item): a JSON list, JSON Lines, or concatenated JSON objects (`}{`,
Q-Bench output files).  Which layouts a format accepts is part of its definition: a `}{`-joined MOS list is an
error, not a guess.  `load_*` return every valid item; `stream_items` gives them one at a time, for the jobs
that meet the release's sizes.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

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
from .stream import CONCATENATED, CSV, JSONL, LIST, CsvRows, DataError, JsonObjects, first_object

T = TypeVar("T")
MAX_KEPT_ERRORS = 1000  # skipped items past this are counted, not kept (a file of 200K bad items stays small)


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
    errors: list[DataError] = field(default_factory=list)  # skipped items (skip_invalid=True), the first ones
    missing_images: list[str] = field(default_factory=list)
    skipped: int = 0  # every skipped item, kept in errors or not

    def summary(self) -> str:
        text = f"{self.path}: {self.total - self.skipped} of {self.total} items valid ({self.layout})"
        if self.skipped:
            text += f"; {self.skipped} skipped, first: {self.errors[0]}"
        if self.missing_images:
            examples = ", ".join(self.missing_images[:3])
            text += f"; {len(self.missing_images)} image file(s) missing, e.g. {examples}"
        return text


# ----------------------------------------------------------------------------------------------- reading


def read_json_objects(path: str | Path) -> tuple[list[tuple[Any, int | None]], str]:
    """Every object of a (small) file with its line, and the file's layout."""
    objects = JsonObjects(path)
    return list(objects), objects.layout


class ItemStream(Generic[T]):
    """A file's valid items one at a time, for jobs that must not hold the file: the counts (total, skipped,
    the first errors) and the layout accumulate as it is read.  A layout the format refuses stops it at once."""

    def __init__(self, path: str | Path, fmt: str, skip_invalid: bool = False):
        if fmt not in FORMATS:
            raise DataError(path, f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        self.path, self.format, self.skip_invalid = Path(path), FORMATS[fmt], skip_invalid
        self.total, self.skipped, self.layout = 0, 0, ""
        self.errors: list[DataError] = []

    def __iter__(self) -> Iterator[T]:
        objects = CsvRows(self.path) if self.path.suffix.lower() == ".csv" else JsonObjects(self.path)
        held = None
        for index, (obj, line) in enumerate(objects):
            if held is not None:  # one object behind: a `}{` shows only at the second object
                yield from self._item(objects.layout, *held)
            held = (index, obj, line)
        if held is not None:
            yield from self._item(objects.layout, *held)
        self.layout = objects.layout or self.layout

    def _item(self, layout: str, index: int, obj: Any, line: int | None) -> Iterator[T]:
        self._check_layout(layout)
        self.total += 1
        try:
            if not isinstance(obj, dict):
                raise ItemError(None, f"expected an object, got {type(obj).__name__}")
            yield self.format.read(obj, index, self.path)
        except ItemError as error:
            problem = DataError(self.path, error.message, index=index, line=line, field=error.field)
            if not self.skip_invalid:
                raise problem from None
            self.skipped += 1
            if len(self.errors) < MAX_KEPT_ERRORS:
                self.errors.append(problem)

    def _check_layout(self, layout: str) -> None:
        self.layout = layout
        if layout not in self.format.layouts:
            hint = " (that is the Q-Bench output layout)" if layout == CONCATENATED else ""
            raise DataError(self.path, f"file is {layout}{hint}; {self.format.name} files are "
                            f"{' or '.join(sorted(self.format.layouts))}")

    def result(self, items: list[T]) -> LoadResult[T]:
        return LoadResult(self.path, items, self.total, self.layout, self.errors, skipped=self.skipped)


def stream_items(path: str | Path, fmt: str | None = None, skip_invalid: bool = False) -> ItemStream:
    """The items of a file in a known format (default: detected from its first item), read as they are used."""
    return ItemStream(path, fmt or detect_format(path), skip_invalid)


def _load(path: str | Path, fmt: str, skip_invalid: bool) -> LoadResult:
    stream = ItemStream(path, fmt, skip_invalid)
    return stream.result(list(stream))


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
    std = _number(obj, "std", allow_string=True) if obj.get("std") is not None else None
    if std is not None and std < 0:
        raise ItemError("std", f"a standard deviation cannot be negative, got {std}")
    return MosItem(_string(obj, "img_path"), _number(obj, "gt_score", allow_string=True), std)


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
    result.missing_images = check_images((path for item in result.items for path in _as_paths(getattr(item, attr))),
                                         image_root)
    return _refuse_missing(result, image_root, strict)


def _refuse_missing(result: LoadResult, image_root: str | Path, strict: bool) -> LoadResult:
    if strict and result.missing_images:
        raise DataError(result.path, f"{len(result.missing_images)} image file(s) missing under {image_root}, "
                        f"e.g. {', '.join(result.missing_images[:3])}")
    return result


@dataclass(frozen=True)
class Format:
    name: str  # as messages say it
    validate: Callable[[dict], Any]
    layouts: frozenset[str]
    images: str | None = None  # the item's attribute naming its image path(s)

    def read(self, obj: dict, index: int, path: Path):
        item = self.validate(obj)
        if self.validate is validate_sharegpt and not item.id:
            item.id = f"{path.stem}-{index}"  # ShareGPT rows carry no id: their position names them
        return item


FORMATS: dict[str, Format] = {
    "instructions": Format("instruction", validate_instruction, frozenset({LIST, JSONL}), "image"),
    "sharegpt": Format("ShareGPT", validate_sharegpt, frozenset({LIST, JSONL}), "image"),
    "pathway": Format("Q-Pathway", validate_pathway, frozenset({JSONL, LIST}), "image"),
    "mos": Format("MOS list", validate_mos, frozenset({LIST, CSV}), "img_path"),
    "qbench-outputs": Format("Q-Bench output", validate_qbench_output, frozenset({CONCATENATED, JSONL, LIST})),
    "llvisionqa": Format("LLVisionQA", validate_llvisionqa, frozenset({LIST, JSONL}), "images"),
}


def check_file(path: str | Path, fmt: str | None = None, *, skip_invalid: bool = False,
               image_root: str | Path | None = None, strict: bool = False) -> LoadResult:
    """Validate a file item by item, holding none of them (`data validate` of a 200K-item file): the counts,
    the first errors and, with image_root, the missing images."""
    items = stream_items(path, fmt, skip_invalid)
    attr = items.format.images
    if image_root is None or attr is None:
        for _ in items:
            pass
        return items.result([])
    missing = check_images((path for item in items for path in _as_paths(getattr(item, attr))), image_root)
    result = items.result([])
    result.missing_images = missing
    return _refuse_missing(result, image_root, strict)


def load_instructions(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[InstructionItem]:
    return _with_images(_load(path, "instructions", skip_invalid), image_root, strict, "image")


def load_sharegpt(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[InstructionItem]:
    return _with_images(_load(path, "sharegpt", skip_invalid), image_root, strict, "image")


def load_pathway(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[PathwayRecord]:
    return _with_images(_load(path, "pathway", skip_invalid), image_root, strict, "image")


def load_mos_list(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[MosItem]:
    return _with_images(_load(path, "mos", skip_invalid), image_root, strict, "img_path")


def load_qbench_outputs(path, *, skip_invalid=False) -> LoadResult[QBenchOutput]:
    return _load(path, "qbench-outputs", skip_invalid)


def load_llvisionqa(path, *, skip_invalid=False, image_root=None, strict=False) -> LoadResult[LLVisionQAItem]:
    return _with_images(_load(path, "llvisionqa", skip_invalid), image_root, strict, "images")


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its first object's keys (reading no further); a .csv file is a MOS list."""
    if Path(path).suffix.lower() == ".csv":
        return "mos"
    first = first_object(path)
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
