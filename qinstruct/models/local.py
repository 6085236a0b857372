"""A model whose weights are in this process: a transformers model, its processor, and what it answers."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

from PIL import Image

from .families import Family
from .types import GenerationOptions, Rating, Turn


@dataclass
class LoadedModel:
    spec: str
    model: Any
    processor: Any
    family: Family
    label: str
    trained: bool = True
    adapter: str | None = None  # the LoRA adapter this side uses inside a PeftModel (None: the base)
    base_spec: str | None = None  # for adapters: the base they sit on
    shared: bool = False  # one PeftModel serves two sides: each row names its adapter
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    kind: ClassVar[str] = "local"

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def tokenizer(self):
        return getattr(self.processor, "tokenizer", self.processor)

    def stream(self, turns: list[Turn], image: Image.Image | None,
               options: GenerationOptions | None = None) -> Iterator[str]:
        from .chat import prompt_text, stream_rows

        options = options or GenerationOptions()
        text = prompt_text(self, turns, image is not None)
        for deltas in stream_rows(self, [text], [image] if image is not None else None, options,
                                  [self.adapter] if self.shared else None):
            yield deltas[0]

    def rate(self, images: list[Image.Image], batch_size: int = 16) -> list[Rating]:
        from .rating import rate

        names = [self.adapter] * len(images) if self.shared else None
        return rate(self, images, batch_size, adapter_names=names)

    def count_tokens(self, text: str) -> int | None:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def describe(self) -> dict:
        return {"spec": self.spec, "kind": self.kind, "label": self.label, "trained": self.trained,
                "family": self.family.name, "device": str(self.device), "adapter": self.adapter,
                "base": self.base_spec}

    def bind(self, api_key: str | None) -> "LoadedModel":
        return self  # local weights need no key

    def warm_up(self) -> None:
        """On a GPU, compile and capture the decoder a first question uses (nothing to do on a CPU)."""
        from .chat import warm_up

        warm_up(self)

    def compile(self) -> int:
        """Compile the repeated blocks for a long rating job (~20 s once on a GPU); returns how many."""
        from .rating import compile_blocks

        return compile_blocks(self.model)
