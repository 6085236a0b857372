"""Items -> training tensors, with the loss on the assistant's answers (and their end token) only.

The conversation is written with the model's own chat template.  The text before each answer is exactly the
prompt the model sees at inference (the template with a generation prompt), so training and chatting agree
token for token; everything after it up to the next prompt is the answer, end-of-turn token included.  The
first prompt goes through the processor (which expands the image token to the image's tokens and prepares the
pixels, images padded to square for LLaVA), the rest through the tokenizer; labels are -100 except on answers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..data.records import IMAGE_TOKENS, QUALITY_LEVELS, InstructionItem
from ..errors import UserError
from ..images import load_rgb
from ..models.chat import prepare_image

if TYPE_CHECKING:
    from ..models.local import LoadedModel
    from .data import Example

IGNORE = -100
_IMAGE = re.compile(r"\s*(" + "|".join(re.escape(t) for t in IMAGE_TOKENS) + r")\s*")


class TemplateError(UserError, ValueError):
    """The conversations cannot be supervised: the chat template does not write them turn by turn, or no answer
    fits in max_length."""


def messages_of(item: InstructionItem, with_image: bool) -> list[dict]:
    messages = []
    for turn in item.conversations:
        if turn.role == "human":
            text = _IMAGE.sub(" ", turn.value).strip()
            content = ([{"type": "image"}] if with_image and not messages else []) + [{"type": "text", "text": text}]
            messages.append({"role": "user", "content": content})
        else:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": turn.value.strip()}]})
    return messages


def segments(processor, messages: list[dict]) -> list[tuple[str, bool]]:
    """[(text, is_answer), ...] whose concatenation is the whole conversation in the template."""
    def render(upto: int, generation: bool) -> str:
        return processor.apply_chat_template(messages[:upto], add_generation_prompt=generation, tokenize=False)

    out, written = [], ""
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt, full = render(index, True), render(index + 1, False)
        if not prompt.startswith(written) or not full.startswith(prompt):
            raise TemplateError("the chat template does not extend the conversation turn by turn; answers cannot "
                                "be located")
        out += [(prompt[len(written):], False), (full[len(prompt):], True)]
        written = full
    return [(text, answer) for text, answer in out if text]


@dataclass
class Supervisor:
    """Encodes examples for one model (its processor, family and image handling).  With `soft_levels` (the
    training items carry DeQA-Score's soft labels, `level_probs`), every example also says where its level word is
    and which tokens the five levels are: the trainer trains that word towards the soft label (KL) instead of the
    one level written in the answer (MixtureTrainer.compute_loss; the labels: data/soft_labels.py)."""
    loaded: LoadedModel
    max_length: int
    soft_levels: bool = False

    def encode(self, example: Example) -> dict[str, Any]:
        import torch

        processor = self.loaded.processor
        image = prepare_image(self.loaded, load_rgb(example.image)) if example.image is not None else None
        pieces = segments(processor, messages_of(example.item, image is not None))
        first_text, first_is_answer = pieces[0]
        if first_is_answer:
            raise TemplateError("the conversation starts with an answer")
        kwargs = {"text": [first_text], "return_tensors": "pt"}
        if image is not None:
            kwargs["images"] = [[image]] if self.loaded.family.nested_images else [image]
        features = dict(processor(**kwargs))
        ids = features.pop("input_ids")[0].tolist()
        features.pop("attention_mask", None)
        per_token = {k: v[0].tolist() for k, v in features.items() if v.dim() == 2 and v.shape[1] == len(ids)}
        labels = [IGNORE] * len(ids)
        tokenizer = self.loaded.tokenizer
        level = None  # (position, the five levels' token ids) of the soft-labelled level word
        for text, is_answer in pieces[1:]:
            piece = tokenizer(text, add_special_tokens=False)["input_ids"]
            if is_answer and self.soft_levels and level is None and soft_probs(example) is not None:
                found = level_tokens(tokenizer, text)
                level = (len(ids) + found[0], found[1]) if found else None
            ids += piece
            labels += piece if is_answer else [IGNORE] * len(piece)
            for key in per_token:
                per_token[key] += [0] * len(piece)  # text tokens: no image, no video
        if len(ids) > self.max_length:
            ids, labels = ids[:self.max_length], labels[:self.max_length]
            per_token = {k: v[:self.max_length] for k, v in per_token.items()}
        if level is not None and level[0] < len(ids):
            labels[level[0]] = IGNORE  # the soft label's KL trains this word, not the one level written there
        else:
            level = None
        out = {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)}
        if self.soft_levels:
            out.update(soft_fields(level, soft_probs(example) if level else None))
        out.update({k: torch.tensor(v) for k, v in per_token.items()})
        out.update({k: v for k, v in features.items() if k not in per_token})  # pixels, grid sizes, masks
        return out


SOFT_FIELDS = ("level_position", "level_ids", "level_target")  # one row per example, (1, n): concatenated
LEVEL_WORD = re.compile(r"\b(" + "|".join(QUALITY_LEVELS) + r")\b")


def soft_probs(example: Example) -> list[float] | None:
    """The example's soft label over the five levels, or None (none given, or not five numbers: then its level
    word keeps its plain label rather than losing both)."""
    probs = example.item.meta.get("level_probs")
    if isinstance(probs, list) and len(probs) == len(QUALITY_LEVELS) and all(
            isinstance(p, (int, float)) and not isinstance(p, bool) for p in probs):
        return [float(p) for p in probs]
    return None


def level_tokens(tokenizer, answer: str) -> tuple[int, list[int]] | None:
    """In an answer like "The quality of the image is good.": the index of the level word's first token among the
    answer's tokens, and the first token of each of the five levels written in its place (excellent .. bad), as
    the tokenizer splits them there; None when the answer names no level or the tokenizer gives no offsets."""
    found = list(LEVEL_WORD.finditer(answer))
    if not found or not getattr(tokenizer, "is_fast", False):
        return None
    start, end = found[-1].span()

    def token_at(text: str) -> tuple[int, int] | None:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        for index, (left, right) in enumerate(encoded["offset_mapping"]):
            if right > start >= left or (left >= start and right > left):
                return index, encoded["input_ids"][index]
        return None

    position = token_at(answer)
    ids = [token_at(answer[:start] + word + answer[end:]) for word in QUALITY_LEVELS]
    if position is None or None in ids:
        return None
    return position[0], [token for _, token in ids]


def soft_fields(level: tuple[int, list[int]] | None, probs) -> dict:
    """The example's soft-label fields; position -1 where it has none (a plain item in the same batch)."""
    import torch

    if level is None or probs is None:
        return {"level_position": torch.tensor([[-1]]), "level_ids": torch.zeros(1, 5, dtype=torch.long),
                "level_target": torch.zeros(1, 5)}
    return {"level_position": torch.tensor([[level[0]]]), "level_ids": torch.tensor([level[1]]),
            "level_target": torch.tensor([probs])}


def approximate_length(example: Example, image_tokens: int) -> int:
    """Tokens, roughly (1.3 per word plus the image's), for grouping similar lengths without encoding."""
    words = sum(len(turn.value.split()) for turn in example.item.conversations)
    return int(words * 1.3) + (image_tokens if example.image is not None else 0)


class TrainingSet:
    """A torch-style dataset of encoded examples; an example whose answers were all cut by max_length is
    replaced by the next one, so that no batch has nothing to learn from."""

    def __init__(self, examples: list[Example], supervisor: Supervisor):
        self.examples, self.supervisor = examples, supervisor

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        for offset in range(len(self.examples)):
            encoded = self.supervisor.encode(self.examples[(index + offset) % len(self.examples)])
            if bool((encoded["labels"] != IGNORE).any()):
                return encoded
        raise TemplateError(f"max_length: every example is longer than {self.supervisor.max_length} tokens before "
                            "its first answer (the image's tokens count too); raise max_length")


@dataclass
class Collator:
    """Right-pads a batch: input ids with the pad token, labels with -100, other per-token features with 0;
    image features (pixels, grid sizes, pixel masks) are concatenated along the batch."""
    pad_token_id: int
    tokens_seen: int = 0  # real (unpadded) tokens of every batch collated, for the tokens/s figure

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        longest = max(len(example["input_ids"]) for example in batch)
        out: dict[str, Any] = {}
        per_token = [k for k, v in batch[0].items() if v.dim() == 1]
        for key in per_token:
            fill = self.pad_token_id if key == "input_ids" else IGNORE if key == "labels" else 0
            out[key] = torch.stack([torch.nn.functional.pad(e[key], (0, longest - len(e[key])), value=fill)
                                    for e in batch])
        out["attention_mask"] = torch.stack([torch.nn.functional.pad(torch.ones(len(e["input_ids"]), dtype=torch.long),
                                                                     (0, longest - len(e["input_ids"])))
                                             for e in batch])
        for key in batch[0]:
            if key not in per_token:
                out[key] = torch.cat([e[key] for e in batch])
        self.tokens_seen += int(out["attention_mask"].sum())
        return out
