"""Two sides (baseline, tuned) for the Chat tab and `qinstruct chat`.

When the tuned side is a LoRA adapter of the baseline, one copy of the base weights serves both: the adapter is
attached to the base, and each request runs as one batch whose rows pick their adapter (peft's mixed-adapter
batches: "__base__" for the baseline row, the adapter for the tuned row).  Memory is about one model, time
about one stream.  Otherwise each side is loaded on its own; a side that fails to load carries its error and
the other side keeps working.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Union

from PIL import Image

from .chat import GenerationOptions, Turn, prompt_text, stream_reply, stream_rows
from .loading import ADAPTER_NAME, BASE_ROW, LoadedModel, LoadOptions, ModelLoadError, adapter_base, attach_adapter, \
    load_model, spec_kind, trained_marker
from .rating import Rating, rate
from .remote import RemoteModel

Side = Union[LoadedModel, RemoteModel, ModelLoadError]


def same_model(a: str, b: str) -> bool:
    if Path(a).expanduser().exists() and Path(b).expanduser().exists():
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    return a.strip() == b.strip()


@dataclass
class SidePair:
    left: Side
    right: Side
    shared: bool = False  # one PeftModel serves both sides

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.left, self.right


def load_pair(left_spec: str, right_spec: str, options: LoadOptions | None = None,
              api_key: str | None = None) -> SidePair:
    options = options or LoadOptions()
    try:
        shares_base = (bool(left_spec.strip()) and spec_kind(right_spec) == "adapter"
                       and same_model(adapter_base(right_spec), left_spec))
    except ModelLoadError:
        shares_base = False  # the right side's own load reports the problem
    if shares_base:
        try:
            base = load_model(left_spec, options)
        except ModelLoadError as error:
            return SidePair(error, error)
        try:
            peft_model = attach_adapter(base, right_spec)
        except ModelLoadError as error:
            return SidePair(base, error)
        left = replace(base, model=peft_model, adapter=BASE_ROW)
        info = trained_marker(Path(right_spec))
        right = replace(base, spec=right_spec, model=peft_model, adapter=ADAPTER_NAME, base_spec=left_spec,
                        label=info.get("label", f"{right_spec} (LoRA on {left_spec})"),
                        trained=info.get("trained", True))
        right.lock = left.lock  # one model, one lock
        return SidePair(left, right, shared=True)
    return SidePair(load_side(left_spec, options, api_key), load_side(right_spec, options, api_key))


def load_side(spec: str, options: LoadOptions, api_key: str | None = None) -> Side:
    try:
        side = load_model(spec, options)
    except ModelLoadError as error:
        return error
    if isinstance(side, RemoteModel) and api_key:
        side.api_key = api_key
    return side


def stream_side(side: Side, turns: list[Turn], image: Image.Image | None,
                options: GenerationOptions) -> Iterator[str]:
    if isinstance(side, ModelLoadError):
        raise side
    if isinstance(side, RemoteModel):
        return side.stream(turns, image, options)
    return stream_reply(side, turns, image, options)


def stream_pair(pair: SidePair, turns: tuple[list[Turn], list[Turn]], image: Image.Image | None,
                options: GenerationOptions | None = None) -> Iterator[tuple[str, str]]:
    """Yield (left delta, right delta) as either side produces text.  A side that fails yields its error
    message once (prefixed with ⚠) and stops; the other goes on."""
    options = options or GenerationOptions()
    if pair.shared:
        left, right = pair.left, pair.right
        texts = [prompt_text(left, turns[0], image is not None), prompt_text(right, turns[1], image is not None)]
        images = [image, image] if image is not None else None
        for deltas in stream_rows(left, texts, images, options, [BASE_ROW, ADAPTER_NAME]):
            yield deltas[0], deltas[1]
        return
    events: queue.Queue = queue.Queue()

    def run(index: int, side: Side) -> None:
        try:
            for delta in stream_side(side, turns[index], image, options):
                events.put((index, delta))
        except Exception as error:  # shown to the user on that side; the other side continues
            events.put((index, f"⚠ {error}"))
        events.put((index, None))

    workers = [threading.Thread(target=run, args=(i, s), daemon=True) for i, s in enumerate(pair.sides)]
    for worker in workers:
        worker.start()
    finished = 0
    while finished < 2:
        index, delta = events.get()
        if delta is None:
            finished += 1
            continue
        yield (delta, "") if index == 0 else ("", delta)


def rate_side(side: Side, images: list[Image.Image]) -> list[Rating]:
    if isinstance(side, ModelLoadError):
        raise side
    if isinstance(side, RemoteModel):
        return side.rate(images)
    names = [side.adapter] * len(images) if side.adapter else None
    return rate(side, images, adapter_names=names)
