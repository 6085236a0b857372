"""Two sides (baseline, tuned) for the Chat tab and `qinstruct chat`.

When the tuned side is a LoRA adapter of the baseline, one copy of the base weights serves both: the adapter is
attached to the base, and each request runs as one batch whose rows pick their adapter (peft's mixed-adapter
batches: "__base__" for the baseline row, the adapter for the tuned row).  An adapter that also replaces whole
modules (a trained projector, peft's modules_to_save) cannot share rows: then each side loads on its own.
Memory is about one model, time about one stream.  Otherwise each side is loaded on its own; a side that fails to
load is a FailedModel that says why, and the other side keeps working.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

from PIL import Image

from ..access import AccessPolicy
from ..errors import UserError
from .chat import prompt_text, stream_rows
from .loading import adapter_label, attach_adapter, load_spec
from .specs import AdapterSpec, parse_spec, same_weights
from .types import ADAPTER_NAME, BASE_ROW, ChatModel, FailedModel, GenerationOptions, LoadOptions, Turn, image_list

FAILED_ANSWER = "⚠ "  # starts what a side shows in place of (the rest of) its answer when it fails


@dataclass
class SidePair:
    left: ChatModel
    right: ChatModel
    shared: bool = False  # one PeftModel serves both sides (then both are LoadedModels)

    @property
    def sides(self) -> tuple[ChatModel, ChatModel]:
        return self.left, self.right

    def bind(self, api_key: str | None) -> SidePair:
        """The pair for one request, remote sides holding that user's key (never the shared pair itself)."""
        return SidePair(self.left.bind(api_key), self.right.bind(api_key), self.shared)


def load_side(text: str, options: LoadOptions, policy: AccessPolicy | None = None) -> ChatModel:
    try:
        return load_spec(parse_spec(text, policy), options, policy)
    except UserError as error:
        return FailedModel(text, error)


def load_pair(left_text: str, right_text: str, options: LoadOptions | tuple[LoadOptions, LoadOptions] | None = None,
              policy: AccessPolicy | None = None) -> SidePair:
    """The two sides; `options` for both, or (left's, right's): remote code is trusted per model."""
    left_options, right_options = options if isinstance(options, tuple) else (options or LoadOptions(),) * 2
    try:
        left_spec, right_spec = parse_spec(left_text, policy), parse_spec(right_text, policy)
    except UserError:
        left_spec = right_spec = None  # each side's own load reports its problem
    if isinstance(right_spec, AdapterSpec) and right_spec.mixable and same_weights(right_spec.base, left_spec) \
            and left_options == right_options:
        return _shared_pair(left_spec, right_spec, left_options, policy)
    return SidePair(load_side(left_text, left_options, policy), load_side(right_text, right_options, policy))


def _shared_pair(left_spec, right_spec: AdapterSpec, options: LoadOptions, policy: AccessPolicy) -> SidePair:
    try:
        base = load_spec(left_spec, options, policy)
    except UserError as error:
        return SidePair(FailedModel(left_spec.text, error), FailedModel(right_spec.text, error))
    try:
        peft_model = attach_adapter(base, right_spec.folder)
    except UserError as error:
        return SidePair(base, FailedModel(right_spec.text, error))
    left = replace(base, model=peft_model, adapter=BASE_ROW, shared=True)
    label, trained = adapter_label(right_spec)
    right = replace(base, spec=right_spec.text, model=peft_model, adapter=ADAPTER_NAME, base_spec=left_spec.text,
                    label=label, trained=trained, shared=True)
    right.lock = left.lock  # one model, one lock
    return SidePair(left, right, shared=True)


def stream_pair(pair: SidePair, turns: tuple[list[Turn], list[Turn]], image: Image.Image | list | None,
                options: GenerationOptions | None = None) -> Iterator[tuple[str, str]]:
    """Yield (left delta, right delta) as either side produces text.  A side that fails yields its error
    message once (prefixed with ⚠) and stops; the other goes on.  `image`: none, one, or a list of images."""
    options = options or GenerationOptions()
    if pair.shared:
        left, right = pair.left, pair.right
        count = len(image_list(image))
        texts = [prompt_text(left, turns[0], count), prompt_text(right, turns[1], count)]
        images = [image, image] if count else None
        for deltas in stream_rows(left, texts, images, options, [BASE_ROW, ADAPTER_NAME]):
            yield deltas[0], deltas[1]
        return
    events: queue.Queue = queue.Queue()
    reader_gone = threading.Event()

    def run(index: int, side: ChatModel) -> None:
        stream = None
        try:
            stream = side.stream(turns[index], image, options)  # a failed side raises here, not when iterated
            for delta in stream:
                if reader_gone.is_set():  # the page was closed: stop this side's generation too
                    break
                events.put((index, delta))
        except Exception as error:  # shown to the user on that side; the other side continues
            events.put((index, f"{FAILED_ANSWER}{error}"))
        finally:
            if hasattr(stream, "close"):
                stream.close()
            events.put((index, None))  # always: the reader counts both sides' ends

    workers = [threading.Thread(target=run, args=(i, s), daemon=True) for i, s in enumerate(pair.sides)]
    for worker in workers:
        worker.start()
    finished = 0
    try:
        while finished < 2:
            index, delta = events.get()
            if delta is None:
                finished += 1
                continue
            yield (delta, "") if index == 0 else ("", delta)
    finally:
        reader_gone.set()
