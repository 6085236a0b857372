"""Prompts in each model's own chat template, batched inputs, and streaming generation.

A conversation is a list of Turn(user, assistant); the image (if any) belongs to the first user turn, as in
LLaVA.  Greedy decoding by default, as in the paper; temperature > 0 samples.  Several rows (two sides of the
Chat tab) can be generated in one batch and streamed row by row.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from PIL import Image

from .families import pad_to_square
from .types import ChatModel, GenerationOptions, ModelLoadError, Turn, image_list

if TYPE_CHECKING:
    from .weights import LocalWeights

__all__ = ["GenerationOptions", "Turn", "batch_inputs", "prompt_text", "reply", "stream_rows", "warm_up"]


def messages_for(turns: list[Turn], images: bool | int) -> list[dict]:
    """The conversation as chat-template messages; the first user turn shows `images` images (True: one)."""
    messages = []
    for k, turn in enumerate(turns):
        content = ([{"type": "image"}] * int(images) if k == 0 else []) + [{"type": "text", "text": turn.user}]
        messages.append({"role": "user", "content": content})
        if turn.assistant is not None:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": turn.assistant}]})
    return messages


def prompt_text(loaded: LocalWeights, turns: list[Turn], with_image: bool | int, answer_prefix: str = "") -> str:
    """The model's chat template with a generation prompt, optionally continued by the start of the answer;
    `with_image`: whether the first turn shows an image, or how many."""
    text = loaded.processor.apply_chat_template(messages_for(turns, with_image), add_generation_prompt=True,
                                                tokenize=False)
    if answer_prefix:
        text += answer_prefix if text[-1:].isspace() else " " + answer_prefix
    return text


def prepare_image(loaded: LocalWeights, image: Image.Image) -> Image.Image:
    image = image.convert("RGB")
    if loaded.family.pad_square:
        mean = getattr(loaded.processor.image_processor, "image_mean", None) or (0.5, 0.5, 0.5)
        # int(), not round(): LLaVA's and mPLUG-Owl2's expand2square truncate the mean colour
        image = pad_to_square(image, tuple(int(255 * m) for m in mean))
    return image


def check_image_count(loaded, count: int) -> None:
    """One line for a question with more images than the model's family takes."""
    from .families import FAMILIES

    most = loaded.family.max_images
    if count > most:
        takes = "one image per question" if most == 1 else f"at most {most} images per question"
        several = ", ".join(name for name, family in FAMILIES.items() if family.max_images > 1)
        raise ModelLoadError(f"{loaded.spec}: {loaded.family.name} models answer about {takes}, not {count}; "
                             f"several images work with these families: {several}")


def batch_inputs(loaded: LocalWeights, texts: list[str], images: list | None):
    """Tokenised, left-padded batch on the model's device; `images` has one entry per row: an image, or the list
    of images the row's prompt shows."""
    kwargs = {"text": texts, "return_tensors": "pt", "padding": True}
    if images is not None:
        from .tiles import centre_tile, tiled

        rows = [image_list(row) for row in images]
        check_image_count(loaded, max(map(len, rows), default=0))  # every question goes through here
        if tiled(loaded):  # a micro model answers about a native-resolution tile, not a 64-px thumbnail
            rows = [[centre_tile(image.convert("RGB")) for image in row] for row in rows]
        prepared = [[prepare_image(loaded, image) for image in row] for row in rows]
        kwargs["images"] = prepared if loaded.family.nested_images else [image for row in prepared for image in row]
    inputs = loaded.processor(**kwargs)
    import torch

    dtype = next(loaded.model.parameters()).dtype
    return {k: (v.to(loaded.device, dtype=dtype) if torch.is_floating_point(v) else v.to(loaded.device))
            for k, v in inputs.items()}


class GenerationAbandoned(Exception):
    """Raised inside generation when its reader has gone."""


class RowStreamer:
    """A generate() streamer for any batch size: collects each row's new tokens and publishes per-row text
    deltas on a queue; holds back an incomplete UTF-8 sequence until its last byte arrives."""

    def __init__(self, tokenizer, rows: int):
        self.tokenizer, self.rows = tokenizer, rows
        self.tokens: list[list[int]] = [[] for _ in range(rows)]
        self.sent = [""] * rows
        self.queue: queue.Queue = queue.Queue()
        self.prompt_seen = False
        self.abandoned = threading.Event()  # set when nobody reads any more (a closed page): stop generating

    def put(self, value) -> None:
        if self.abandoned.is_set():
            raise GenerationAbandoned  # unwinds generate() at the next token: the model is free again
        if not self.prompt_seen:  # generate() first passes the prompt
            self.prompt_seen = True
            return
        values = value.reshape(self.rows, -1).tolist()  # a (B,) step from fastgen, or (B, 1) from generate
        deltas = []
        for row in range(self.rows):
            self.tokens[row].extend(values[row])
            text = self.tokenizer.decode(self.tokens[row], skip_special_tokens=True)
            if text.endswith("\ufffd"):
                deltas.append("")
                continue
            deltas.append(text[len(self.sent[row]):])
            self.sent[row] = text
        if any(deltas):
            self.queue.put(deltas)

    def end(self) -> None:
        self.queue.put(None)

    def __iter__(self) -> Iterator[list[str]]:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


def use_fast_path(loaded: LocalWeights, options: GenerationOptions) -> bool:
    """GraphDecoder for greedy decoding of LLaVA / Idefics3 decoders, on any device: on a GPU it is compiled and
    replayed as a CUDA graph; on a CPU it runs eagerly and still beats generate() (the fused step, and no peft
    mixed-batch routing for two sides: 1.7x per Chat turn on a tiny LLaVA and a LoRA on it).  QINSTRUCT_FASTGEN=never
    turns it off."""
    import os

    from .fastgen import supports

    if os.environ.get("QINSTRUCT_FASTGEN", "auto") == "never" or options.temperature > 0:
        return False
    return supports(loaded.model)


def fast_decoder(loaded: LocalWeights, batch: int, max_len: int, adapter_names: list[str] | None = None):
    """One GraphDecoder per (batch, cache length, adapters), kept on the LocalWeights: capture and compile
    happen once."""
    from .fastgen import GraphDecoder

    key = (batch, max_len, tuple(adapter_names or ()))
    decoders = loaded.__dict__.setdefault("_decoders", {})
    if key not in decoders:
        decoders[key] = GraphDecoder(loaded.model, batch=batch, max_len=max_len, adapter_names=adapter_names,
                                     compile_step=loaded.device.type == "cuda")
    return decoders[key]


def stream_rows(loaded: LocalWeights, texts: list[str], images: list[Image.Image] | None,
                options: GenerationOptions, adapter_names: list[str] | None = None) -> Iterator[list[str]]:
    """Generate every row in one batch; yield per-row text deltas as tokens arrive."""
    import torch

    from .fastgen import fast_cache_length

    inputs = batch_inputs(loaded, texts, images)
    streamer = RowStreamer(loaded.tokenizer, len(texts))
    tokenizer = loaded.tokenizer
    cache_length = fast_cache_length(inputs["input_ids"].shape[1], options.max_new_tokens)
    fast = cache_length is not None and use_fast_path(loaded, options)

    def run() -> None:
        try:
            with loaded.lock, torch.inference_mode():
                torch.manual_seed(options.seed)
                if fast:
                    decoder = fast_decoder(loaded, len(texts), cache_length, adapter_names)
                    streamer.put(inputs["input_ids"])
                    decoder.generate(inputs, options.max_new_tokens, tokenizer.eos_token_id, on_tokens=streamer.put)
                    streamer.end()
                else:
                    extra = {"adapter_names": adapter_names} if adapter_names else {}
                    loaded.model.generate(**inputs, **options.generate_kwargs(), streamer=streamer,
                                          pad_token_id=tokenizer.pad_token_id, **extra)
        except GenerationAbandoned:
            streamer.queue.put(None)
        except BaseException as error:  # surfaced to the consumer, which re-raises it
            streamer.queue.put(error)
            streamer.queue.put(None)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        yield from streamer
    finally:  # also when the reader stops early (its generator closed): generation stops at the next token
        streamer.abandoned.set()
        worker.join()


def warm_up(loaded: LocalWeights, batches: tuple[int, ...] = (1,), adapter_names: list[str] | None = None,
            even_on_cpu: bool = False) -> None:
    """Compile and capture the fast decoder at load time, so that no user waits for it on a first question.
    Off a GPU there is nothing to compile or capture: skipped unless asked."""
    if not use_fast_path(loaded, GenerationOptions()) or (loaded.device.type != "cuda" and not even_on_cpu):
        return
    import torch

    from .fastgen import fast_cache_length

    image = Image.new("RGB", (64, 64), (128, 128, 128))
    for batch in batches:
        names = adapter_names if batch == len(adapter_names or ()) else None
        inputs = batch_inputs(loaded, [prompt_text(loaded, [Turn("Describe the image.")], True)] * batch,
                              [image] * batch)
        # the cache length a first question with the default answer length will use
        length = fast_cache_length(inputs["input_ids"].shape[1], GenerationOptions().max_new_tokens)
        if length is not None:
            with loaded.lock, torch.inference_mode():
                fast_decoder(loaded, batch, length, names).generate(inputs, 4)


def reply(model: ChatModel, turns: list[Turn], image: Image.Image | None,
          options: GenerationOptions | None = None) -> str:
    """The whole answer of any model (local or remote) to the last turn."""
    return "".join(model.stream(turns, image, options))
