"""An offline tokenizer for tiny and micro models: byte-level BPE trained on text the project writes itself.

The corpus is the demo world's language (synthetic feedbacks, questions, rating prompts), so the words the
protocols need (" good", " poor", " excellent", ...) become single tokens: merges run to completion
(vocabulary large enough), unlike a capped BPE that splits " good" into pieces.
"""
from __future__ import annotations

import functools

import numpy as np

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]


def training_corpus(n_images: int = 1500, seed: int = 0) -> list[str]:
    from ..corrupt import list_corruptions
    from ..demo.feedback import QUALITY_LEVELS, write_feedbacks
    from ..demo.questions import DISTORTION_NOUNS, FAMILY_QUESTIONS
    from ..demo.scenes import COLOURS, PHOTOS, POSITIONS, SHAPES

    rng = np.random.default_rng(seed)
    lines = ["Rate the quality of the image.", "The quality of the image is", "Describe and evaluate the quality "
             "of the image.", "Is this image clear?", "Rate the quality of the image. Think step by step.",
             "Answer with the option's letter from the given choices directly.", "USER: ASSISTANT:"]
    lines += [f"The quality of the image is {level}." for level in QUALITY_LEVELS] * 20
    lines += [q for pair in FAMILY_QUESTIONS.values() for q in pair] + list(DISTORTION_NOUNS.values())
    common = list_corruptions("common")
    for i in range(n_images):
        if rng.random() < 0.5:
            objects = [{"shape": SHAPES[int(rng.integers(4))], "colour": sorted(COLOURS)[int(rng.integers(6))],
                        "position": list(POSITIONS.values())[int(rng.integers(9))]}]
            content = {"kind": "scene", "background": "clutter", "objects": objects}
        else:
            subject, category = list(PHOTOS.values())[int(rng.integers(len(PHOTOS)))]
            content = {"kind": "photo", "photo": "x", "subject": subject, "category": category}
        corruption = common[i % 15] if i % 10 else None
        lines += [t for _, t in write_feedbacks(rng, content, corruption, int(rng.integers(1, 6)),
                                                 float(rng.uniform(0, 100)), 3)]
    return lines


@functools.lru_cache(maxsize=4)
def _trained_tokenizer_json(vocab_size: int, extra_special: tuple[str, ...]) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + list(extra_special),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(training_corpus(), trainer=trainer)
    return tokenizer.to_str()


def build_tokenizer(vocab_size: int = 2048, extra_special: tuple[str, ...] = (), chat_template: str | None = None):
    """A PreTrainedTokenizerFast with <s>, </s>, <pad>, <unk>, <image> and any extra special tokens."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_trained_tokenizer_json(vocab_size, tuple(extra_special))),
        bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>", *extra_special]})
    if chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer
