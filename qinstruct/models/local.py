"""A model whose weights are in this process: a transformers model, its processor, and what it answers."""
from __future__ import annotations

from collections.abc import Iterator

from PIL import Image

from .types import GenerationOptions, Rating, Turn
from .weights import LocalWeights


class LoadedModel(LocalWeights):
    """A model whose weights are in this process, and what it answers."""

    def stream(self, turns: list[Turn], image: Image.Image | list[Image.Image] | None,
               options: GenerationOptions | None = None) -> Iterator[str]:
        from .chat import prompt_text, stream_rows
        from .types import image_list

        options = options or GenerationOptions()
        count = len(image_list(image))
        text = prompt_text(self, turns, count)
        for deltas in stream_rows(self, [text], [image] if count else None, options,
                                  [self.adapter] if self.shared else None):
            yield deltas[0]

    def rate(self, images: list[Image.Image], batch_size: int = 16) -> list[Rating]:
        from .rating import rate

        names = [self.adapter] * len(images) if self.shared else None
        return rate(self, images, batch_size, adapter_names=names)

    def answer_many(self, questions: list[str], images: list,
                    options: GenerationOptions | None = None, batch_size: int = 8) -> list[str]:
        """One-turn answers to many questions (each with no image, one, or a list: a pair question), generated
        in batches (greedy by default)."""
        from .chat import prompt_text, stream_rows
        from .types import image_list

        options = options or GenerationOptions()
        answers: list[str] = []
        for start in range(0, len(questions), batch_size):
            chunk, pictures = questions[start:start + batch_size], images[start:start + batch_size]
            counts = {len(image_list(p)) for p in pictures}
            if len(counts) > 1:  # mixed (no image / one / two): one at a time
                answers += ["".join(self.stream([Turn(q)], p, options)) for q, p in zip(chunk, pictures)]
                continue
            count = counts.pop()
            texts = [prompt_text(self, [Turn(q)], count) for q in chunk]
            rows = [""] * len(chunk)
            names = [self.adapter] * len(chunk) if self.shared else None
            for deltas in stream_rows(self, texts, pictures if count else None, options, names):
                rows = [row + delta for row, delta in zip(rows, deltas)]
            answers += rows
        return answers

    def option_losses(self, question: str, options: list[str], image: Image.Image | None
                      ) -> tuple[list[float], list[float]]:
        """Q-Bench's likelihood protocol: each option after the prompt, mean loss over the whole sequence and
        over the option's tokens, the options in one batch."""
        from .likelihood import option_losses

        return option_losses(self, question, options, image)

    def count_tokens(self, text: str) -> int | None:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def describe(self) -> dict:
        return {"spec": self.spec, "kind": self.kind, "label": self.label, "trained": self.trained,
                "family": self.family.name, "device": str(self.device), "adapter": self.adapter,
                "base": self.base_spec}

    def bind(self, api_key: str | None) -> LoadedModel:
        return self  # local weights need no key

    def warm_up(self) -> None:
        """On a GPU, compile and capture the decoder a first question uses (nothing to do on a CPU)."""
        from .chat import warm_up

        warm_up(self)

    def compile(self) -> int:
        """Compile the repeated blocks for a long rating job (~20 s once on a GPU); returns how many."""
        from .rating import compile_blocks

        return compile_blocks(self.model)
