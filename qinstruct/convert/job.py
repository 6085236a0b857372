"""`qinstruct convert`: every feedback of a Q-Pathway file -> instruction items, resumably.

The output folder is a run folder (config.yaml, status.json, log.jsonl, see qinstruct.runs) holding:

    items.json      the instruction items (LLaVA layout, one per line), written when every feedback is done
    report.json     counts by type and form, yes/no balance, calls, tokens
    partial.jsonl   one line per finished feedback: the job's progress

Feedbacks run concurrently (asyncio, `concurrency` workers).  Each finished feedback is appended to
partial.jsonl by this process alone; the model's responses are also in the content-addressed cache.  Killed at
any moment, the next run skips the lines already written (a torn last line is dropped) and gets the rest from
the cache or the server: no item is lost or written twice.

Nothing is held whole (the release: 77K feedbacks, 782K items): the feedback file is read as the workers take
feedbacks, the job remembers only which feedbacks are done and where their line starts, and items.json is
written by reading partial.jsonl back in the feedbacks' order, counting on the way.
"""
from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from ..config import ConfigError, check_config, option
from ..data.exporters import list_exporters
from ..data.loaders import DataError, stream_items
from ..data.stream import file_stamp
from ..endpoints import DEFAULT_MODEL, KeyPolicy, check_url, default_base_url
from ..fileio import append_line, iter_jsonl, write_json, write_json_list
from ..jobs.spec import JobSpec, items_point
from ..runs import Progress, RunFolder
from ..workspace import safe_name
from . import prompts
from .backends import (
    Conversion,
    ConversionError,
    FeedbackRef,
    backend_class,
    convert_once,
    create_backend,
    list_backends,
)
from .cache import ResponseCache
from .cost import CostEstimate, estimate, load_prices, usage_cost
from .items import SUBSETS

ITEMS, REPORT, PARTIAL = "items.json", "report.json", "partial.jsonl"


@dataclass
class ConvertJobConfig:
    COMMAND: ClassVar = ("convert",)
    KIND: ClassVar = "convert"

    input: str = option(help="Q-Pathway JSONL (image, source, mos, feedbacks)", positional=True, path="file")
    out: str = option(help="output folder (a run folder: items.json, report.json, partial.jsonl, config.yaml)",
                      affects_result=False)
    backend: str = option("offline", help="offline (rules, no key) or an OpenAI-compatible model",
                          choices=list_backends)
    model: str = option(DEFAULT_MODEL, help="model name on the endpoint (remote backends)")
    base_url: str | None = option(None, help="any OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 "
                                  "(default: $OPENAI_BASE_URL or OpenAI)",
                                  affects_result=False)  # the same model may move to another server
    subsets: list[str] = option(default_factory=lambda: list(SUBSETS), help="item subsets to produce",
                                choices=SUBSETS)
    concurrency: int = option(16, help="requests in flight", min=1, max=1024, affects_result=False)
    max_attempts: int = option(5, help="tries per request on 429 / 5xx / timeouts", min=1, max=50,
                              affects_result=False)
    timeout: float = option(60.0, help="seconds per request", gt=0, max=3600, affects_result=False)
    cache_dir: str | None = option(None, help="response cache, shared by runs (default: .qinstruct-cache beside "
                                   "the output folder)", affects_result=False)
    prices: str | None = option(None, path="file",
                                help="YAML price table (USD per 1M tokens) overriding the built-in one",
                                affects_result=False)
    limit: int = option(0, help="convert only the first N feedbacks (0: all)", min=0, max=100_000_000)
    export: str | None = option(None, help="also export the finished items in this format", choices=list_exporters,
                                affects_result=False)

    def validate(self) -> None:
        if not self.subsets:
            raise ConfigError("subsets: choose at least one subset")
        if self.base_url:
            check_url(self.base_url)  # file://, a bare host: said now, not after minutes of retries
        if Path(self.out).suffix.lower() in (".json", ".jsonl"):
            raise ConfigError(f"out is a folder (items.json, report.json, ... go inside it), got {self.out!r}")

    def check_inputs(self, access) -> None:
        """Before a process starts for it (the launcher asks): the feedback file is there, and the endpoint is
        one this process's users may reach."""
        if not Path(self.input).is_file():
            raise ConfigError(f"{Path(self.input).name}: no such feedback file")
        if backend_class(self.backend).remote:
            access.keys.check(self.base_url or default_base_url())

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
    output: str | None = None

    @property
    def complete(self) -> bool:
        return not self.failed and self.already_done + self.converted == self.feedbacks

    def add_usage(self, conversion: Conversion) -> None:
        self.converted += 1
        self.calls += conversion.calls
        self.cached_groups += conversion.cached_groups
        self.prompt_tokens += conversion.prompt_tokens
        self.completion_tokens += conversion.completion_tokens

    def count(self, record: dict) -> None:
        """Add one finished feedback's items (this run's or an earlier run's) to the counts."""
        items = record["items"]
        self.items += len(items)
        for key, values in (("type", self.by_type), ("form", self.by_form)):
            for item in items:
                values[item[key]] = values.get(item[key], 0) + 1
        for item in items:
            if item["form"] == "yes-no":
                answer = item["conversations"][-1]["value"].rstrip(".").lower()
                self.yes_no[answer] = self.yes_no.get(answer, 0) + 1
        self.flagged_feedbacks += bool(record["flags"] or any(i.get("flags") for i in items))

    def summary(self) -> str:
        balance = f"{self.yes_no.get('yes', 0)} yes / {self.yes_no.get('no', 0)} no"
        text = (f"{self.converted} feedback(s) converted, {self.already_done} already done, {len(self.failed)} "
                f"failed, {self.flagged_feedbacks} flagged; {self.items} items "
                f"({', '.join(f'{k} {v}' for k, v in sorted(self.by_type.items()))}); yes/no balance {balance}; "
                f"{self.calls} API call(s), {self.cached_groups} from the cache")
        return text + (f"; written to {self.output}" if self.output else "; not complete: run again to resume")


def iter_feedback_refs(path: str, limit: int = 0) -> Iterator[FeedbackRef]:
    """Every non-empty feedback with a stable id, read as it is asked for: RECORD#K, RECORD being the record's id
    or image.  Two records of one image (two annotation rounds) keep distinct ids: the later ones become
    IMAGE@INDEX#K."""
    used, count = set(), 0
    for index, record in enumerate(stream_items(path, "pathway")):
        base = str(record.meta.get("id") or record.image or f"record-{index}")
        if base in used:
            base = f"{base}@{index}"
        used.add(base)
        for k, text in enumerate(record.feedbacks):
            if text.strip():
                yield FeedbackRef(f"{base}#{k}", text, record.image)
                count += 1
                if count == limit:
                    return


def feedback_refs(path: str, limit: int = 0) -> list[FeedbackRef]:
    """The first `limit` feedbacks (a preview's few; a whole release goes through iter_feedback_refs)."""
    return list(iter_feedback_refs(path, limit))


def count_feedbacks(path: str, limit: int = 0) -> int:
    return sum(1 for _ in iter_feedback_refs(path, limit))


def done_lines(partial: Path, repair: bool = True) -> dict[str, int]:
    """Where each finished feedback's line starts in partial.jsonl, by feedback id; a torn last line (killed
    mid-write) is cut off the file (only by the job that holds the run folder: an estimate reads without
    repairing)."""
    return {str(record["feedback_id"]): offset for record, offset in iter_jsonl(partial, repair=repair)
            if "feedback_id" in record and isinstance(record.get("items"), list)}


def make_backend(config: ConvertJobConfig, api_key: str | None, key_policy: KeyPolicy | None = None):
    return create_backend(config.backend, model=config.model, base_url=config.base_url, api_key=api_key,
                          timeout=config.timeout, max_attempts=config.max_attempts,
                          cache=ResponseCache(config.cache_folder), key_policy=key_policy)


def estimate_cost(config: ConvertJobConfig) -> CostEstimate:
    """What a run would cost: calls still to make (done or cached ones excluded), tokens, dollars."""
    check_config(config)
    if not backend_class(config.backend).remote:
        return CostEstimate(0, 0, 0, 0, 0.0, True)
    done = done_lines(Path(config.out) / PARTIAL, repair=False)
    cache = ResponseCache(config.cache_folder)
    cached = 0

    def calls():
        nonlocal cached
        for ref in iter_feedback_refs(config.input, config.limit):
            if ref.feedback_id in done:
                continue
            for group, members in prompts.GROUPS.items():
                if not any(s in config.subsets for s in members):
                    continue
                key = cache.key(config.backend, config.model, config.base_url or default_base_url(),
                                backend_class(config.backend).prompt_version, group, ref.text)
                if cache.get(key) is not None:
                    cached += 1
                else:
                    yield group, prompts.messages(group, ref.text)

    counted = estimate(calls(), 0, config.model, load_prices(config.prices))
    counted.cached_calls = cached
    return counted


def run_convert_job(config: ConvertJobConfig, api_key: str | None = None, progress: Progress | None = None,
                    key_policy: KeyPolicy | None = None) -> JobReport:
    """Convert (or continue converting) every feedback; an interruption (Ctrl-C, an abort) keeps what is done."""
    check_config(config)
    if config.prices:
        load_prices(config.prices)  # a missing or malformed table is said before any feedback is converted
    run = RunFolder(config.out, ConvertJobConfig.KIND)
    with run.hold(config):
        report = asyncio.run(_run(config, Path(config.out), api_key, run.tracker(progress), key_policy))
        run.summary = {"feedbacks": report.feedbacks, "items": report.items, "failed": len(report.failed)}
        return report


async def _run(config: ConvertJobConfig, out: Path, api_key, progress: Progress, key_policy) -> JobReport:
    partial = out / PARTIAL
    done = set(done_lines(partial))
    report, before = JobReport(), file_stamp(config.input)
    for ref in iter_feedback_refs(config.input, config.limit):
        report.feedbacks += 1
        report.already_done += ref.feedback_id in done
    todo = (ref for ref in iter_feedback_refs(config.input, config.limit) if ref.feedback_id not in done)
    backend = make_backend(config, api_key, key_policy)
    finished = report.already_done
    progress(finished, report.feedbacks)

    async def worker() -> None:
        nonlocal finished
        for ref in todo:  # shared by the workers: each takes the next feedback when it is free
            try:
                conversion: Conversion = await backend.convert(ref, tuple(config.subsets))
            except ConversionError as error:
                report.failed.append((ref.feedback_id, str(error)))
                continue
            append_line(partial, conversion.to_json())
            done.add(ref.feedback_id)
            report.add_usage(conversion)
            finished += 1
            progress(finished, report.feedbacks)

    try:
        await asyncio.gather(*(worker() for _ in range(config.concurrency)))
    finally:
        await backend.close()
    if file_stamp(config.input) != before:  # between two readings (each reading checks itself)
        raise DataError(config.input, "changed during the conversion (is something still writing it?); run again "
                        "when it is complete: the feedbacks converted so far are kept")
    if report.complete:
        write_json_list(out / ITEMS, _items_in_order(config, partial, report))
        report.output = str(out / ITEMS)
        write_json(out / REPORT, asdict(report))
    else:
        for record, _ in iter_jsonl(partial):
            report.count(record)
    return report


def _items_in_order(config: ConvertJobConfig, partial: Path, report: JobReport) -> Iterator[dict]:
    """Every finished feedback's items in the feedback file's order (as a one-shot run would write them), read
    back from partial.jsonl line by line and counted on the way."""
    where = done_lines(partial)
    with partial.open("rb") as lines:
        for ref in iter_feedback_refs(config.input, config.limit):
            lines.seek(where[ref.feedback_id])
            record = json.loads(lines.readline())
            report.count(record)
            yield from record["items"]


def export_items(run_folder: str | Path, target: str) -> list[Path]:
    """A finished conversion's items in another trainer's format, in RUN/export-TARGET/."""
    from ..data.exporters import export_instructions

    run_folder = Path(run_folder)
    items = stream_items(run_folder / ITEMS, "instructions")
    return export_instructions(items, run_folder / f"export-{target}", target, safe_name(run_folder.name, "qinstruct"))


def preview_conversion(config: ConvertJobConfig, ref: FeedbackRef, api_key: str | None = None,
                       key_policy: KeyPolicy | None = None) -> Conversion:
    """One feedback's conversion with everything shown: exact prompts, raw responses, items, usage."""
    check_config(config)
    return asyncio.run(convert_once(make_backend(config, api_key, key_policy), ref, tuple(config.subsets)))


def usage_line(conversion: Conversion, model: str) -> str:
    """Calls, cache hits, tokens and dollars of a conversion, as the server reported them."""
    usd = usage_cost(model, conversion.prompt_tokens, conversion.completion_tokens)
    return (f"{conversion.calls} call(s), {conversion.cached_groups} from the cache · {conversion.prompt_tokens} "
            f"prompt + {conversion.completion_tokens} completion tokens · "
            + (f"${usd:.4f}" if usd is not None else "no price known for this model"))


def convert_job(config: ConvertJobConfig) -> int:
    """The conversion job (`qinstruct convert`, the Convert tab's batch): exit status 0 complete, 1 some
    feedbacks failed (run again to resume)."""
    from ..runs import progress_bar

    print(f"{count_feedbacks(config.input, config.limit):,} feedback(s); backend {config.backend}; "
          f"{estimate_cost(config).line(config.model)}", file=sys.stderr)
    with progress_bar("convert", "feedback") as progress:
        report = run_convert_job(config, progress=progress)
    print(report.summary(), file=sys.stderr)
    for feedback_id, reason in report.failed[:10]:
        print(f"failed: {feedback_id}: {reason}", file=sys.stderr)
    if report.output and config.export:
        for path in export_items(config.out, config.export):
            print(path)
    if report.output:
        print(report.output)
    return 0 if report.complete else 1


CONVERT_JOB = JobSpec(ConvertJobConfig.KIND, ConvertJobConfig, convert_job,
                      items_point("partial.jsonl", "feedbacks"), rerun_done=True)
