"""Reading a data file object by object, never whole: the release's files (a 462 MB items file, a 1 GB
single-line LLaVA list) pass through in the memory of one item.

Layouts: a JSON list (read item by item, even when the whole list is on one line), JSON Lines, or concatenated
JSON objects (`}{`, Q-Bench output files; an object may span lines).  Each item is decoded by the standard
library's C decoder from a buffer that holds one item and the next chunk of the file.

Three things a stream can meet at scale are said in one line, never as a traceback or an out-of-memory kill: a
file that ends inside an item (a truncated last line), one item larger than MAX_OBJECT_CHARS (a 2 GB
single-line file that is not a JSON list), and a file that changes while it is read (its writer is not done).
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import UserError

LIST, JSONL, CONCATENATED = "JSON list", "JSON Lines", "concatenated JSON objects (}{)"
MAX_OBJECT_CHARS = 64 << 20  # one item (a line, an object, a list's element): far above any real item
CHUNK_CHARS = 1 << 20
_WHITESPACE = " \t\r\n"


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


class JsonObjects:
    """Iterate a file's top-level objects as (object, line) pairs (line: None inside a JSON list, whose items
    are numbered by index).  `layout` is known once reading starts; a JSON Lines file whose objects abut (`}{`)
    turns CONCATENATED at the first abutting pair, so a reader that refuses that layout stops there."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.layout: str | None = None

    def __iter__(self) -> Iterator[tuple[Any, int | None]]:
        if self.path.is_dir():
            raise DataError(self.path, "is a folder, not a data file")
        try:
            handle = self.path.open("r", encoding="utf-8-sig", newline="")
        except FileNotFoundError:
            raise DataError(self.path, "no such file") from None
        except OSError as error:
            raise DataError(self.path, f"cannot read ({error.strerror or error})") from None
        with handle:
            before = _stamp(handle)
            reader = _Reader(self.path, handle)
            try:
                if not reader.skip_blank():
                    raise DataError(self.path, "empty file")
                if reader.peek() == "[":
                    self.layout = LIST
                    yield from ((obj, None) for obj in reader.list_items())
                else:
                    self.layout = JSONL
                    for obj, line, abutting in reader.objects():
                        if abutting:
                            self.layout = CONCATENATED
                        yield obj, line
            except RecursionError:
                raise DataError(self.path, "JSON nested too deeply to read") from None
            except UnicodeDecodeError as error:
                raise DataError(self.path, f"not UTF-8 text ({error.reason} near byte {handle.buffer.tell()})") \
                    from None
            except OSError as error:
                raise DataError(self.path, f"cannot read ({error.strerror or error})") from None
            if _stamp(handle) != before:
                raise DataError(self.path, "changed while it was read (is something still writing it?); run again "
                                "when it is complete: what this run finished is kept")


class _Reader:
    """A window on the file: `buffer[position:]` is what is left to decode; `line` is the line at `position`."""

    def __init__(self, path: Path, handle):
        self.path, self.handle = path, handle
        self.buffer, self.position, self.line, self.at_end = "", 0, 1, False
        self.decoder = json.JSONDecoder()

    def fill(self) -> bool:
        """Read the next chunk; False at the end of the file."""
        if self.at_end:
            return False
        chunk = self.handle.read(CHUNK_CHARS)
        if not chunk:
            self.at_end = True
            return False
        if self.position > CHUNK_CHARS:
            self.buffer, self.position = self.buffer[self.position:], 0
        self.buffer += chunk
        return True

    def skip_blank(self) -> bool:
        """Move past blank space; False when the file has nothing more."""
        while True:
            start = self.position
            while self.position < len(self.buffer) and self.buffer[self.position] in _WHITESPACE:
                self.position += 1
            self.line += self.buffer.count("\n", start, self.position)
            if self.position < len(self.buffer):
                return True
            if not self.fill():
                return False

    def peek(self) -> str:
        return self.buffer[self.position]

    def decode(self) -> Any:
        """The value at `position` (after skip_blank), reading on while it is cut by the end of the buffer."""
        while True:
            try:
                obj, end = self.decoder.raw_decode(self.buffer, self.position)
            except json.JSONDecodeError as error:
                if not _maybe_cut(error, self.buffer, 16):
                    raise self.bad(error.pos, error.msg) from None
                if len(self.buffer) - self.position > MAX_OBJECT_CHARS:
                    raise DataError(self.path, f"one item runs past {MAX_OBJECT_CHARS >> 20} MB (a huge single-line "
                                    "file that is not a JSON list?); write one item per line (JSON Lines) or a JSON "
                                    "list", line=self.line) from None
                if not self.fill():
                    if not _maybe_cut(error, self.buffer, 0):
                        raise self.bad(error.pos, error.msg) from None
                    raise self.truncated() from None
                continue
            if end > len(self.buffer) - 16 and self.fill():
                continue  # a number near the buffer's end may go on in the next chunk (`-1e` of `-1e-5`)
            self.line += self.buffer.count("\n", self.position, end)
            self.position = end
            return obj

    def objects(self) -> Iterator[tuple[Any, int, bool]]:
        """JSON Lines or concatenated objects: (object, line, abutting the previous one)."""
        first = True
        while True:
            start_line, start = self.line, self.position
            if not self.skip_blank():
                return
            abutting = not first and self.line == start_line and self.position == start  # no blank in between
            line = self.line
            obj = self.decode()
            first = False
            yield obj, line, abutting

    def list_items(self) -> Iterator[Any]:
        self.position += 1  # "["
        if self.skip_blank() and self.peek() == "]":
            self.position += 1
        else:
            while True:
                if not self.skip_blank():
                    raise self.truncated()
                yield self.decode()
                if not self.skip_blank():
                    raise self.truncated()
                separator = self.peek()
                self.position += 1
                if separator == "]":
                    break
                if separator != ",":
                    raise self.bad(self.position - 1, "Expecting ',' delimiter")
                if self.skip_blank() and self.peek() == "]":
                    raise self.bad(self.position, "Expecting value (a comma before the list's end)")
        if self.skip_blank():
            raise self.bad(self.position, "Extra data after the JSON list")

    def truncated(self) -> DataError:
        return DataError(self.path, f"bad JSON at line {self.line}: the file ends inside an item (truncated? a "
                         "writer killed mid-write?)")

    def bad(self, at: int, message: str) -> DataError:
        line = self.line + self.buffer.count("\n", self.position, at) if at >= self.position else self.line
        column = at - (self.buffer.rfind("\n", 0, at) + 1) + 1
        return DataError(self.path, f"bad JSON at line {line} column {column}: {message}")


def _maybe_cut(error: json.JSONDecodeError, buffer: str, slack: int) -> bool:
    """Whether a decoding error may only mean that the value goes on past the buffer: it stops within `slack`
    characters of the buffer's end (a literal such as `tr|ue` cut by a chunk's end fails just before it), or in
    a string that runs to the end."""
    return error.pos >= len(buffer.rstrip(_WHITESPACE)) - slack or error.msg.startswith("Unterminated string")


def _stamp(handle) -> tuple[int, int]:
    return _size_and_time(os.fstat(handle.fileno()))


def file_stamp(path: str | Path) -> tuple[int, int]:
    """Size and modification time: what changes when someone writes the file (compared between two readings)."""
    return _size_and_time(os.stat(path))


def _size_and_time(status: os.stat_result) -> tuple[int, int]:
    return status.st_size, status.st_mtime_ns


def first_object(path: str | Path) -> Any:
    """The file's first top-level object (None for an empty list), reading no further."""
    for obj, _ in JsonObjects(path):
        return obj
    return None


CSV = "CSV"
# a MOS list as a spreadsheet: the first column of each kind found in the header (any case) is used
PATH_COLUMNS = ("img_path", "image", "path", "image_name", "filename", "file", "name")
SCORE_COLUMNS = ("gt_score", "mos", "score", "mos_zscore")
STD_COLUMNS = ("std", "mos_std", "sd", "stddev", "std_dev")


class CsvRows:
    """A CSV MOS list's rows as MOS objects ({"img_path", "gt_score"}, "std" where the file has one), one at a
    time with their line numbers, as JsonObjects gives a JSON file's objects."""

    layout = CSV

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __iter__(self) -> Iterator[tuple[dict, int]]:
        import csv

        try:
            with self.path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                columns = self._columns(reader.fieldnames or [])
                for row in reader:
                    yield {key: row.get(column) for key, column in columns.items()
                           if row.get(column) not in (None, "")}, reader.line_num
        except UnicodeDecodeError as error:
            raise DataError(self.path, f"not UTF-8 text ({error.reason} at byte {error.start})") from None
        except csv.Error as error:
            raise DataError(self.path, f"bad CSV: {error}") from None

    def _columns(self, header: list[str]) -> dict[str, str]:
        named = {name.strip().lower(): name for name in header if name}

        def first(candidates: tuple[str, ...]) -> str | None:
            return next((named[name] for name in candidates if name in named), None)

        path, score, std = first(PATH_COLUMNS), first(SCORE_COLUMNS), first(STD_COLUMNS)
        if path is None or score is None:
            raise DataError(self.path, f"a CSV MOS list needs a path column ({', '.join(PATH_COLUMNS)}) and a score "
                            f"column ({', '.join(SCORE_COLUMNS)}); its header: {', '.join(header) or '(none)'}")
        return {"img_path": path, "gt_score": score, **({"std": std} if std else {})}
