"""`qinstruct convert`: every feedback of a Q-Pathway file -> instruction items, resumably.

Feedbacks run concurrently (asyncio, at most `concurrency` in flight).  Each finished feedback is appended, as
one line, to OUT.partial.jsonl by this process alone; the model's responses are also in the content-addressed
cache.  Killed at any moment, the next run skips the lines already written (a torn last line is dropped) and
gets the rest from the cache or the server: no item is lost or written twice.  When every feedback is done the
items are assembled into OUT (a JSON list, LLaVA layout) with OUT.report.json beside it.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..config import ConfigError
from ..data.loaders import load_pathway
from . import prompts
from .backends import Conversion, ConversionError, FeedbackRef, create_backend, list_backends
from .cache import ResponseCache
from .cost import CostEstimate, estimate, load_prices
from .items import SUBSETS


@dataclass
class ConvertJobConfig:
    input: str = field(metadata={"help": "Q-Pathway JSONL (image, source, mos, feedbacks)"})
    out: str = field(metadata={"help": "output JSON (LLaVA layout); OUT.partial.jsonl holds progress"})
    backend: str = field(default="offline", metadata={"help": "offline (rules, no key) or openai"})
    model: str = field(default="gpt-4o-mini", metadata={"help": "model name for the openai backend"})
    base_url: str | None = field(default=None, metadata={"help": "any OpenAI-compatible server; default OpenAI"})
    subsets: list[str] = field(default_factory=lambda: list(SUBSETS), metadata={"help": "item subsets to produce"})
    concurrency: int = field(default=16, metadata={"help": "requests in flight"})
    max_attempts: int = field(default=5, metadata={"help": "tries per request on 429 / 5xx / timeouts"})
    timeout: float = field(default=60.0, metadata={"help": "seconds per request"})
    cache_dir: str | None = field(default=None, metadata={"help": "response cache (default: beside OUT)"})
    prices: str | None = field(default=None, metadata={"help": "YAML price table overriding the built-in one"})
    limit: int = field(default=0, metadata={"help": "convert only the first N feedbacks (0: all)"})

    def validate(self) -> None:
        if self.backend not in list_backends():
            raise ConfigError(f"unknown backend {self.backend!r}; known: {', '.join(list_backends())}")
        unknown = [s for s in self.subsets if s not in SUBSETS]
        if unknown or not self.subsets:
            raise ConfigError(f"subsets must be among {', '.join(SUBSETS)}; got {self.subsets}")
        if self.concurrency < 1 or self.max_attempts < 1:
            raise ConfigError("concurrency and max_attempts must be at least 1")

    @property
    def cache_folder(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else Path(self.out).parent / ".qinstruct-cache"


@dataclass
class JobReport:
    feedbacks: int = 0
    converted: int = 0  # in this run
    already_done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (feedback id, reason): retried next run
    flagged_feedbacks: int = 0
    items: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_form: dict[str, int] = field(default_factory=dict)
    yes_no: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    cached_groups: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stopped: bool = False
    output: str | None = None

    @property
    def complete(self) -> bool:
        return not self.failed and not self.stopped and self.already_done + self.converted == self.feedbacks

    def summary(self) -> str:
        balance = f"{self.yes_no.get('yes', 0)} yes / {self.yes_no.get('no', 0)} no"
        text = (f"{self.converted} feedback(s) converted, {self.already_done} already done, {len(self.failed)} "
                f"failed, {self.flagged_feedbacks} flagged; {self.items} items "
                f"({', '.join(f'{k} {v}' for k, v in sorted(self.by_type.items()))}); yes/no balance {balance}; "
                f"{self.calls} API call(s), {self.cached_groups} from the cache")
        return text + (f"; written to {self.output}" if self.output else "; not complete: run again to resume")


def feedback_refs(path: str, limit: int = 0) -> list[FeedbackRef]:
    records = load_pathway(path).items
    refs = []
    for index, record in enumerate(records):
        base = str(record.meta.get("id") or record.image or f"record-{index}")
        refs += [FeedbackRef(f"{base}#{k}", text, record.image) for k, text in enumerate(record.feedbacks)
                 if text.strip()]
    return refs[:limit] if limit else refs


def read_done(partial: Path) -> dict[str, dict]:
    """Finished feedbacks by id; a torn last line (killed mid-write) is cut off the file."""
    done: dict[str, dict] = {}
    if not partial.exists():
        return done
    keep = 0
    with partial.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            try:
                record = json.loads(raw)
            except ValueError:
                break
            done[record["feedback_id"]] = record
            keep += len(raw)
    if keep != partial.stat().st_size:
        with partial.open("r+b") as handle:
            handle.truncate(keep)
    return done


def make_backend(config: ConvertJobConfig, api_key: str | None):
    return create_backend(config.backend, model=config.model, base_url=config.base_url, api_key=api_key,
                          timeout=config.timeout, max_attempts=config.max_attempts,
                          cache=ResponseCache(config.cache_folder))


def estimate_cost(config: ConvertJobConfig, refs: list[FeedbackRef] | None = None) -> CostEstimate:
    """What a run would cost: calls still to make (done or cached ones excluded), tokens, dollars."""
    config.validate()
    refs = refs if refs is not None else feedback_refs(config.input, config.limit)
    if config.backend == "offline":
        return CostEstimate(0, 0, 0, 0, 0.0, True)
    done = read_done(Path(config.out + ".partial.jsonl"))
    cache = ResponseCache(config.cache_folder)
    calls, cached = [], 0
    for ref in refs:
        if ref.feedback_id in done:
            continue
        for group, members in prompts.GROUPS.items():
            if not any(s in config.subsets for s in members):
                continue
            key = cache.key("openai", config.model, prompts.PROMPT_VERSION, group, ref.text)
            if cache.get(key) is not None:
                cached += 1
            else:
                calls.append((group, prompts.messages(group, ref.text)))
    return estimate(calls, cached, config.model, load_prices(config.prices))


@contextlib.contextmanager
def _exclusive(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another conversion is writing {path}") from None
        yield


ProgressCallback = Callable[[int, int], None]


def run_convert_job(config: ConvertJobConfig, api_key: str | None = None, progress: ProgressCallback | None = None,
                    stop: threading.Event | None = None) -> JobReport:
    config.validate()
    out = Path(config.out)
    with _exclusive(out):
        return asyncio.run(_run(config, out, api_key, progress, stop))


async def _run(config, out: Path, api_key, progress, stop) -> JobReport:
    refs = feedback_refs(config.input, config.limit)
    partial = Path(str(out) + ".partial.jsonl")
    done = read_done(partial)
    report = JobReport(feedbacks=len(refs), already_done=sum(1 for r in refs if r.feedback_id in done))
    todo = [r for r in refs if r.feedback_id not in done]
    backend = make_backend(config, api_key)
    semaphore = asyncio.Semaphore(config.concurrency)
    finished = report.already_done
    if progress:
        progress(finished, len(refs))
    with partial.open("a", encoding="utf-8") as sink:

        async def one(ref: FeedbackRef) -> None:
            nonlocal finished
            async with semaphore:
                if stop is not None and stop.is_set():
                    report.stopped = True
                    return
                try:
                    conversion: Conversion = await backend.convert(ref, tuple(config.subsets))
                except ConversionError as error:
                    report.failed.append((ref.feedback_id, str(error)))
                    return
            sink.write(json.dumps(conversion.to_json(), ensure_ascii=False) + "\n")
            sink.flush()
            done[ref.feedback_id] = conversion.to_json()
            report.converted += 1
            report.calls += conversion.calls
            report.cached_groups += conversion.cached_groups
            report.prompt_tokens += conversion.prompt_tokens
            report.completion_tokens += conversion.completion_tokens
            finished += 1
            if progress:
                progress(finished, len(refs))

        try:
            await asyncio.gather(*(one(ref) for ref in todo))
        finally:
            await backend.close()
    items = [item for ref in refs if ref.feedback_id in done for item in done[ref.feedback_id]["items"]]
    report.items = len(items)
    report.by_type = dict(Counter(i["type"] for i in items))
    report.by_form = dict(Counter(i["form"] for i in items))
    report.yes_no = dict(Counter(i["conversations"][-1]["value"].rstrip(".").lower() for i in items
                                 if i["form"] == "yes-no"))
    report.flagged_feedbacks = sum(1 for ref in refs if ref.feedback_id in done and (
        done[ref.feedback_id]["flags"] or any(i.get("flags") for i in done[ref.feedback_id]["items"])))
    if report.complete:
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(json.dumps(items, ensure_ascii=False, indent=1))
        tmp.replace(out)
        report.output = str(out)
        Path(str(out) + ".report.json").write_text(json.dumps(asdict(report), indent=1))
    return report
