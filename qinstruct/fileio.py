"""Writing files so that a crash, a kill or a full disk never leaves a half-written file under the real name.

Every writer goes through a temporary file in the same folder (`.NAME.PID.tmp`), flushed to disk, then renamed
over the target; if anything fails the temporary file is removed and the previous version stays intact.  A job
holding its run folder's lock removes leftovers of a killed run (`remove_stale_temporaries`).
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import UserError


def now() -> str:
    """The local time as every record of the project writes it (status.json, the chat log)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S")


class WriteError(UserError):
    """A file could not be written (disk full, permission, read-only folder); nothing half-written is left."""

    exit_code = 3


def temporary_name(path: Path) -> Path:
    """Unique per writer (process, thread and call), so that two writers of one file never share a temporary."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file to write; on success it replaces `path`, on any error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: cannot write ({error.strerror or error}); the previous file, if any, is "
                         "unchanged") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> Path:
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_files_and_zip(out_dir: str | Path, files: dict[str, bytes], archive: str = "report.zip") -> Path:
    """Each file into out_dir, and an archive of them all; the same files give the same archive bytes (its
    entries carry a fixed date)."""
    import io
    import zipfile

    out_dir = Path(out_dir)
    for name, data in files.items():
        write_bytes(out_dir / name, data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as handle:
        for name, data in files.items():
            handle.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return write_bytes(out_dir / archive, buffer.getvalue())


def write_json(path: str | Path, data: Any, indent: int | None = 1) -> Path:
    return write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    """One JSON object per line, written as the rows come (a generator is never held whole)."""
    with atomic_open(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return Path(path)


def write_json_list(path: str | Path, rows: Iterable[Any]) -> int:
    """A JSON list with one item per line, written as the items come; returns how many.  Atomic like every
    writer here: a failure (or a reader's error raised inside `rows`) leaves the previous file, if any."""
    count = 0
    with atomic_open(path, "w") as handle:
        handle.write("[")
        for row in rows:
            handle.write(("\n" if not count else ",\n") + json.dumps(row, ensure_ascii=False))
            count += 1
        handle.write("\n]\n")
    return count


def append_line(path: str | Path, record: dict) -> None:
    """Append one JSON line with a single write(2) on an O_APPEND descriptor: concurrent writers never
    interleave inside a line, and a kill leaves at worst a torn last line, which readers drop."""
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_jsonl(path: str | Path, repair: bool = False) -> list[dict]:
    """The JSON objects of a JSON Lines file (see iter_jsonl)."""
    return [record for record, _ in iter_jsonl(path, repair)]


def iter_jsonl(path: str | Path, repair: bool = False) -> Iterator[tuple[dict, int]]:
    """The JSON objects of a JSON Lines file with each line's byte offset, read one line at a time.  A torn last
    line (a writer killed mid-write) is ignored, and with repair=True cut off the file (once it has been read to
    the end) so that appending continues cleanly; a damaged line elsewhere is skipped, never cut, so no complete
    line after it is lost."""
    path = Path(path)
    if not path.exists():
        return
    keep = size = 0
    with path.open("rb") as handle:
        for raw in handle:
            offset, size = size, size + len(raw)
            if not raw.endswith(b"\n"):
                break  # the torn tail
            keep = size
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record, offset
    if repair and keep != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(keep)


def remove_stale_temporaries(folder: Path) -> int:
    """Leftovers of a killed writer (`.NAME.PID.tmp`).  Call only while holding the folder's lock."""
    removed = 0
    for stale in folder.rglob(".*.tmp"):
        stale.unlink(missing_ok=True)
        removed += 1
    return removed
