"""An offline tokenizer for tiny models: byte-level BPE trained on text the project ships with.

The corpus is the protocols' own wording (rating prompts, the A1 instruction, the five quality levels) and the
curated low-level vocabulary in sentences, so the words the protocols need (" good", " poor", " excellent",
...) become single tokens: merges run to completion (vocabulary large enough), unlike a capped BPE that splits
" good" into pieces.
"""
from __future__ import annotations

import functools

from ..data.records import QUALITY_LEVELS
from ..data.vocabulary import load_vocabulary
from .types import ANSWER_PREFIX, RATING_QUESTION

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
PROTOCOL_LINES = [RATING_QUESTION, ANSWER_PREFIX, "Describe and evaluate the quality of the image.",
                  "Is this image clear?", "Rate the quality of the image. Think step by step.",
                  "Answer with the option's letter from the given choices directly.", "USER: ASSISTANT:",
                  "Describe the quality, aesthetics and other low-level appearance of the image in details."]


def default_corpus() -> list[str]:
    """Sentences from the protocols and the low-level vocabulary, each level and term many times over."""
    lines = list(PROTOCOL_LINES)
    lines += [f"{ANSWER_PREFIX} {level}." for level in QUALITY_LEVELS] * 40
    for attribute, terms in load_vocabulary().attributes.items():
        for term in terms:
            for level in QUALITY_LEVELS:
                lines.append(f"The {attribute} of the image shows {term}, so the quality of the image is {level}.")
    lines += [f"{letter}. {level}" for letter in "ABCD" for level in QUALITY_LEVELS] * 5
    return lines


@functools.lru_cache(maxsize=4)
def _trained_tokenizer_json(vocab_size: int, extra_special: tuple[str, ...], corpus: tuple[str, ...] = ()) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + list(extra_special),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(default_corpus() + list(corpus), trainer=trainer)
    return tokenizer.to_str()


def build_tokenizer(vocab_size: int = 2048, extra_special: tuple[str, ...] = (), chat_template: str | None = None,
                    corpus: tuple[str, ...] = ()):
    """A PreTrainedTokenizerFast with <s>, </s>, <pad>, <unk>, <image> and any extra special tokens, trained on
    the default corpus plus `corpus`."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_trained_tokenizer_json(vocab_size, tuple(extra_special), tuple(corpus))),
        bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>", *extra_special]})
    if chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer
