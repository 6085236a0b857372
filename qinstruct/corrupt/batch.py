"""The batch job: corrupt a file or a folder, write DIR/manifest.jsonl, resume after an interruption.

Every item's seed (and, with random_assign, its corruption and severity) is derived from the job seed and the
image's path relative to the source, so results do not depend on worker count or processing order.  Outputs
are written to a temporary name and renamed; the manifest line is appended only after the rename, by the
parent process alone.  A killed job therefore leaves at worst an image without a line, which the next run
redoes identically, and never a duplicate line.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import multiprocessing
import os
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image

from ..config import ConfigError
from .api import MAX_SEED, corrupt
from .images import DEFAULT_MAX_MEGAPIXELS, ImageInputError, load_image
from .registry import SEVERITIES, list_corruptions

MANIFEST = "manifest.jsonl"
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}


@dataclass
class CorruptJobConfig:
    source: str = field(metadata={"help": "an image file or a folder of images (searched recursively)"})
    out: str = field(metadata={"help": "output folder; holds the images and manifest.jsonl"})
    corruptions: list[str] = field(default_factory=list, metadata={"help": "corruption names (see --list)"})
    severities: list[int] = field(default_factory=lambda: [3], metadata={"help": "severities, 1..5"})
    random_assign: bool = field(
        default=False, metadata={"help": "give each image one random corruption of the 15 and a random severity"}
    )
    seed: int = field(default=0, metadata={"help": "job seed; per-image seeds derive from it and the file path"})
    workers: int = field(default=1, metadata={"help": "worker processes"})
    max_megapixels: float = field(
        default=DEFAULT_MAX_MEGAPIXELS, metadata={"help": "refuse larger images (decompression-bomb guard)"}
    )
    image_format: str = field(default="png", metadata={"help": "output format: png (lossless), jpg or webp"})

    def validate(self) -> None:
        known = set(list_corruptions())
        unknown = [name for name in self.corruptions if name not in known]
        if unknown:
            raise ConfigError(f"unknown corruption(s) {', '.join(unknown)}; see `qinstruct corrupt --list`")
        if self.random_assign and self.corruptions:
            raise ConfigError("random_assign picks the corruption itself: give no corruptions with it")
        if not self.random_assign and not self.corruptions:
            raise ConfigError("choose corruptions (--corruption NAME..., --all) or --random-assign")
        bad = [s for s in self.severities if s not in SEVERITIES]
        if bad or not self.severities:
            raise ConfigError(f"severities must be in 1..5, got {self.severities}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be in [0, {MAX_SEED}]")
        if self.workers < 1:
            raise ConfigError("workers must be at least 1")
        if self.max_megapixels <= 0:
            raise ConfigError("max_megapixels must be positive")
        if self.image_format not in OUTPUT_FORMATS:
            raise ConfigError(f"image_format must be one of {', '.join(OUTPUT_FORMATS)}")


@dataclass(frozen=True)
class Task:
    corruption: str
    severity: int
    seed: int
    output: str  # relative to the output folder


@dataclass
class JobSummary:
    written: int = 0
    skipped_done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, one-line reason)
    manifest: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


def _digest_int(*parts: object) -> int:
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def item_seed(job_seed: int, relpath: str, corruption: str, severity: int) -> int:
    return _digest_int(job_seed, relpath, corruption, severity) % (MAX_SEED + 1)


def assign_random(job_seed: int, relpath: str) -> tuple[str, int]:
    """The paper's custom variant: one of the 15 common corruptions and one severity per pristine image."""
    rng = np.random.default_rng([job_seed, _digest_int(relpath, "assign")])
    common = list_corruptions("common")
    return common[int(rng.integers(len(common)))], int(rng.integers(1, 6))


def discover_sources(source: Path, exclude: Path | None = None) -> list[Path]:
    """The file itself, or every non-hidden file under a folder (non-images are reported later, not hidden)."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise ConfigError(f"source {source}: no such file or folder")
    found = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if exclude is not None and path.resolve().is_relative_to(exclude):
            continue
        found.append(path)
    return found


def plan_tasks(config: CorruptJobConfig, relpath: str) -> list[Task]:
    stem = str(Path(relpath).with_suffix(""))
    suffix = OUTPUT_FORMATS[config.image_format]
    if config.random_assign:
        pairs = [assign_random(config.seed, relpath)]
    else:
        pairs = [(name, severity) for name in config.corruptions for severity in config.severities]
    return [
        Task(name, severity, item_seed(config.seed, relpath, name, severity), f"{stem}__{name}_s{severity}{suffix}")
        for name, severity in pairs
    ]


def read_manifest(path: Path) -> list[dict]:
    """Complete lines of a manifest; a torn last line (killed mid-write) is dropped from the file."""
    if not path.exists():
        return []
    records, keep_bytes = [], 0
    with path.open("rb") as handle:
        for raw in handle:
            try:
                records.append(json.loads(raw))
            except ValueError:
                break
            if not raw.endswith(b"\n"):
                records.pop()
                break
            keep_bytes += len(raw)
    if keep_bytes != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(keep_bytes)
    return records


def _task_key(source_rel: str, corruption: str, severity: int, seed: int) -> tuple:
    return (source_rel, corruption, int(severity), int(seed))


def process_source(source: str, relpath: str, out_dir: str, tasks: list[Task], max_megapixels: float) -> dict:
    """Worker: load one image once and write all its outputs.  Returns manifest records or an error line."""
    try:
        data = Path(source).read_bytes()
        image = load_image(source, max_megapixels)
    except ImageInputError as error:
        return {"source": source, "error": str(error)}
    except OSError as error:
        return {"source": source, "error": f"{source}: cannot read ({error.strerror or error})"}
    sha256 = hashlib.sha256(data).hexdigest()
    records = []
    for task in tasks:
        out_path = Path(out_dir) / task.output
        out_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = corrupt(image, task.corruption, task.severity, task.seed)
        except ImageInputError as error:
            return {"source": source, "error": f"{source}: {error}"}
        save_image_atomic(result, out_path)
        records.append(
            {
                "source": source,
                "source_rel": relpath,
                "sha256": sha256,
                "corruption": task.corruption,
                "severity": task.severity,
                "seed": task.seed,
                "output": task.output,
            }
        )
    return {"source": source, "records": records}


def save_image_atomic(image: Image.Image, path: Path) -> None:
    """Write to a temporary name in the same folder, then rename: readers never see half a file."""
    kind = {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}[path.suffix]
    if kind == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif kind == "PNG" and image.mode == "F":
        image = image.convert("I")  # PNG has no float samples
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    image.save(tmp, format=kind, quality=95)
    os.replace(tmp, path)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would oversubscribe


ProgressCallback = Callable[[int, int], None]


def run_corrupt_job(config: CorruptJobConfig, progress: ProgressCallback | None = None) -> JobSummary:
    """Run (or resume) a batch job.  `progress(done, total)` is called as images are written."""
    config.validate()
    source, out_dir = Path(config.source), Path(config.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(out_dir):
        return _run_locked(config, source, out_dir, progress)


@contextlib.contextmanager
def _exclusive(out_dir: Path):
    """One job per output folder: a second one would interleave manifest lines.  The lock dies with the
    process, so a killed job never leaves the folder locked."""
    with (out_dir / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another job is writing to {out_dir}; wait for it or choose another --out") from None
        # Under the lock, temporary files can only be leftovers of a killed run.
        for stale in out_dir.rglob(".*.tmp"):
            stale.unlink(missing_ok=True)
        yield


def _run_locked(config: CorruptJobConfig, source: Path, out_dir: Path, progress: ProgressCallback | None) -> JobSummary:
    sources = discover_sources(source, exclude=out_dir.resolve())
    root = source if source.is_dir() else source.parent
    manifest_path = out_dir / MANIFEST
    done = {
        _task_key(r["source_rel"], r["corruption"], r["severity"], r["seed"])
        for r in read_manifest(manifest_path)
        if (out_dir / r["output"]).exists()
    }
    summary = JobSummary(manifest=str(manifest_path))
    work: list[tuple[str, str, list[Task]]] = []
    for path in sources:
        relpath = path.relative_to(root).as_posix()
        tasks = plan_tasks(config, relpath)
        todo = [t for t in tasks if _task_key(relpath, t.corruption, t.severity, t.seed) not in done]
        summary.skipped_done += len(tasks) - len(todo)
        if todo:
            work.append((str(path), relpath, todo))
    total = sum(len(tasks) for _, _, tasks in work)
    if progress:
        progress(0, total)
    with manifest_path.open("a", encoding="utf-8") as manifest:

        def collect(result: dict) -> None:
            if "error" in result:
                summary.failed.append((result["source"], result["error"]))
                return
            for record in result["records"]:
                manifest.write(json.dumps(record) + "\n")
            manifest.flush()
            os.fsync(manifest.fileno())
            summary.written += len(result["records"])

        finished = 0
        for result, n_tasks in _execute(work, str(out_dir), config):
            collect(result)
            finished += n_tasks
            if progress:
                progress(finished, total)
    return summary


def _execute(work: list[tuple[str, str, list[Task]]], out_dir: str, config: CorruptJobConfig) -> Iterable[tuple[dict, int]]:
    if config.workers == 1 or len(work) <= 1:
        for path, relpath, tasks in work:
            yield process_source(path, relpath, out_dir, tasks, config.max_megapixels), len(tasks)
        return
    # spawn, not fork: the studio calls this from a threaded server, where fork can deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(config.workers, mp_context=context, initializer=_init_worker) as pool:
        pending: dict[Future, int] = {}
        queue = iter(work)
        for path, relpath, tasks in queue:
            pending[pool.submit(process_source, path, relpath, out_dir, tasks, config.max_megapixels)] = len(tasks)
            if len(pending) >= config.workers * 4:  # bounded queue: memory stays flat on huge folders
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result(), pending.pop(future)
                nxt = next(queue, None)
                if nxt is not None:
                    path, relpath, tasks = nxt
                    pending[pool.submit(process_source, path, relpath, out_dir, tasks, config.max_megapixels)] = len(tasks)


def print_summary(summary: JobSummary, stream=None) -> None:
    stream = stream or sys.stderr
    for _, reason in summary.failed:
        print(f"skipped: {reason}", file=stream)
    print(
        f"wrote {summary.written} image(s), {summary.skipped_done} already done, {len(summary.failed)} source(s) "
        f"skipped; manifest: {summary.manifest}",
        file=stream,
    )
