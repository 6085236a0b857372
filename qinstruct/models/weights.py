"""The parts of a model whose weights are in this process -- the transformers model, its processor, its family --
which the chat, rating and likelihood functions read; LoadedModel (local.py) adds what it answers."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .families import Family


@dataclass
class LocalWeights:
    spec: str
    model: Any
    processor: Any
    family: Family
    label: str
    trained: bool = True
    adapter: str | None = None  # the LoRA adapter this side uses inside a PeftModel (None: the base)
    base_spec: str | None = None  # for adapters: the base they sit on
    shared: bool = False  # one PeftModel serves two sides: each row names its adapter
    rating_prompt: str = "auto"  # models/rating.py: auto, q-bench, q-align or one-align
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    kind: ClassVar[str] = "local"

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def tokenizer(self):
        return getattr(self.processor, "tokenizer", self.processor)
