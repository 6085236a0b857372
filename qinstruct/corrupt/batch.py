"""The batch job: corrupt a file or a folder, write DIR/manifest.jsonl, resume after an interruption.

Every item's seed (and, with random_assign, its corruption and severity) is derived from the job seed and the
image's path relative to the source, so results do not depend on worker count or processing order.  Outputs
are written to a temporary name and renamed; the manifest line is appended only after the rename, by the
parent process alone.  A killed job therefore leaves at worst an image without a line, which the next run
redoes identically, and never a duplicate line.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from ..config import ConfigError, check_config, option
from ..fileio import atomic_open, read_jsonl
from ..images import to_rgb
from ..jobs.spec import JobSpec, items_point
from ..runs import Progress, RunFolder
from .api import MAX_SEED, corrupt
from .images import DEFAULT_MAX_MEGAPIXELS, ImageInputError, load_image
from .registry import SEVERITIES, list_corruptions

MANIFEST = "manifest.jsonl"
MANIFEST_KEYS = {"source_rel", "corruption", "severity", "seed", "output"}  # a line without them is not a record
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}


@dataclass
class CorruptJobConfig:
    COMMAND: ClassVar = ("corrupt",)
    KIND: ClassVar = "corrupt"

    source: str = option(help="an image file or a folder of images (searched recursively)", positional=True,
                         path="file-or-folder")
    out: str = option(help="output folder; holds the images and manifest.jsonl", affects_result=False)
    corruptions: list[str] = option(default_factory=list, help="corruption names (see --list)",
                                    choices=list_corruptions, flag="--corruption", metavar="NAME")
    severities: list[int] = option(default_factory=lambda: [3], help="severities, 1..5", choices=SEVERITIES,
                                   flag="--severity", metavar="N")
    random_assign: bool = option(False, help="give each image one random corruption of the 15 and a random severity")
    seed: int = option(0, help="job seed; per-image seeds derive from it and the file path", min=0, max=MAX_SEED)
    workers: int = option(1, help="worker processes", min=1, max=256, affects_result=False)
    max_megapixels: float = option(DEFAULT_MAX_MEGAPIXELS, help="refuse larger images (decompression-bomb guard)",
                                   gt=0, max=10_000)
    image_format: str = option("png", help="output format: png (lossless), jpg or webp", choices=list(OUTPUT_FORMATS),
                               flag="--format")

    def validate(self) -> None:
        if self.random_assign and self.corruptions:
            raise ConfigError("random_assign picks the corruption itself: give no corruptions with it")
        if not self.random_assign and not self.corruptions:
            raise ConfigError("choose corruptions (--corruption NAME..., --all) or --random-assign")
        if not self.severities:
            raise ConfigError("give at least one severity (1..5)")
        if Path(self.out).resolve() == Path(self.source).resolve():
            raise ConfigError("out must differ from source: the outputs would be mixed with the originals")

    def check_inputs(self, access) -> None:
        """Before a process starts for it (the launcher asks): the source is there."""
        if not Path(self.source).exists():
            raise ConfigError(f"{Path(self.source).name}: no such image or folder")


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
    notes: list[str] = field(default_factory=list)  # what a user should know about a source that was written
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
    """The file itself, or every non-hidden file under a folder (non-images are reported later, not hidden).
    Under a studio's policy, files that resolve outside what it may read or into its private folders (a link, a
    batch over the whole workspace) are not sources: they are left out without a word about them."""
    from ..access import AccessDenied, process_policy

    if source.is_file():
        return [source]
    if not source.is_dir():
        raise ConfigError(f"source {source}: no such file or folder")
    policy, found = process_policy(), []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if exclude is not None and path.resolve().is_relative_to(exclude):
            continue
        try:
            policy.data_file_path(source, rel)
        except AccessDenied:
            continue
        found.append(path)
    return found


def plan_tasks(config: CorruptJobConfig, relpath: str, keep_suffix: bool = False) -> list[Task]:
    """keep_suffix: photo.jpg and photo.png in one folder would share output names; such sources keep their
    suffix in the name (photo_jpg__fog_s3.png)."""
    path = Path(relpath)
    stem = str(path.with_name(path.name.replace(".", "_"))) if keep_suffix else str(path.with_suffix(""))
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
    """Complete lines of a manifest; a torn last line (killed mid-write) is cut off the file."""
    return read_jsonl(path, repair=True)


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
    frames = image.info.get("frames", 1)
    note = f"{source}: animated, the first of its {frames} frames was used" if frames > 1 else None
    return {"source": source, "records": records, "note": note}


def save_image_atomic(image: Image.Image, path: Path) -> None:
    """Write to a temporary name in the same folder, then rename: readers never see half a file."""
    kind = {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}[path.suffix]
    image = savable(image, kind)
    with atomic_open(path, "wb") as handle:
        image.save(handle, format=kind, quality=95)


def savable(image: Image.Image, kind: str) -> Image.Image:
    """The image in a mode the format can store: JPEG holds L / RGB / CMYK, WebP L / RGB(A), PNG no float."""
    mode = image.mode
    if kind == "JPEG" and mode not in ("RGB", "L", "CMYK"):
        return image.convert("RGB") if mode not in ("I;16", "I", "F") else to_rgb(image)
    if kind == "WEBP" and mode not in ("RGB", "RGBA", "L"):
        return image.convert("RGBA") if "A" in mode else (to_rgb(image) if mode in ("I;16", "I", "F") else
                                                          image.convert("RGB"))
    if kind == "PNG" and mode == "F":
        return to_rgb(image)  # PNG has no float samples: 8-bit grey as RGB
    if kind == "PNG" and mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16", "I;16B", "I;16L"):
        return image.convert("RGBA" if "A" in mode else "RGB")  # CMYK, LAB, YCbCr, HSV
    return image


def _init_worker(parent: int) -> None:
    import threading

    import cv2

    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would oversubscribe
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent was killed (-9 gives it no chance to stop the pool) would wait for work forever:
    it leaves as soon as it is re-parented."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def run_corrupt_job(config: CorruptJobConfig, progress: Progress | None = None) -> JobSummary:
    """Run (or resume) a batch job.  `progress(done, total)` is called as images are written."""
    check_config(config)
    run = RunFolder(config.out, CorruptJobConfig.KIND)
    with run.hold(config):
        summary = _run_locked(config, Path(config.source), Path(config.out), run.tracker(progress))
        run.summary = {"written": summary.written, "already_done": summary.skipped_done,
                       "skipped_sources": len(summary.failed)}
        return summary


def _run_locked(config: CorruptJobConfig, source: Path, out_dir: Path, progress: Progress) -> JobSummary:
    sources = discover_sources(source, exclude=out_dir.resolve())
    root = source if source.is_dir() else source.parent
    manifest_path = out_dir / MANIFEST
    done = {
        _task_key(r["source_rel"], r["corruption"], r["severity"], r["seed"])
        for r in read_manifest(manifest_path)
        if MANIFEST_KEYS <= r.keys() and (out_dir / str(r["output"])).exists()
    }
    summary = JobSummary(manifest=str(manifest_path))
    work: list[tuple[str, str, list[Task]]] = []
    relpaths = [path.relative_to(root).as_posix() for path in sources]
    stems = Counter(str(Path(rel).with_suffix("")).lower() for rel in relpaths)
    for path, relpath in zip(sources, relpaths):
        tasks = plan_tasks(config, relpath, keep_suffix=stems[str(Path(relpath).with_suffix("")).lower()] > 1)
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
            if result.get("note"):
                summary.notes.append(result["note"])
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


def _execute(work: list[tuple[str, str, list[Task]]], out_dir: str,
             config: CorruptJobConfig) -> Iterable[tuple[dict, int]]:
    if config.workers == 1 or len(work) <= 1:
        for path, relpath, tasks in work:
            yield process_source(path, relpath, out_dir, tasks, config.max_megapixels), len(tasks)
        return
    # The batch's own worker processes, inside its job (jobs/process.py starts the job; the job starts these, as
    # accelerate starts a training's).  spawn, not fork: a fork copies the parent's threads' locks mid-flight.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(config.workers, mp_context=context, initializer=_init_worker,
                             initargs=(os.getpid(),)) as pool:
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
                    future = pool.submit(process_source, path, relpath, out_dir, tasks, config.max_megapixels)
                    pending[future] = len(tasks)


def print_summary(summary: JobSummary, stream=None) -> None:
    stream = stream or sys.stderr
    for note in summary.notes:
        print(f"note: {note}", file=stream)
    for _, reason in summary.failed:
        print(f"skipped: {reason}", file=stream)
    print(
        f"wrote {summary.written} image(s), {summary.skipped_done} already done, {len(summary.failed)} source(s) "
        f"skipped; manifest: {summary.manifest}",
        file=stream,
    )


def corrupt_job(config: CorruptJobConfig) -> int:
    """The batch job (`qinstruct corrupt`, the Corrupt tab's batch): exit status 0 all done, 2 a bad single
    file, 3 done but some sources skipped."""
    from ..runs import progress_bar

    with progress_bar("corrupt", "img") as progress:
        summary = run_corrupt_job(config, progress)
    print_summary(summary)
    if summary.failed:
        return 2 if Path(config.source).is_file() else 3
    return 0


CORRUPT_JOB = JobSpec(CorruptJobConfig.KIND, CorruptJobConfig, corrupt_job, items_point("manifest.jsonl", "images"),
                      rerun_done=True)
