"""Quality rating from next-token logits, as Q-Bench (A3) and Q-Align do.

Prompt: the model's chat template with the user turn "Rate the quality of the image." and the answer started
as "The quality of the image is"; then the logits of the next token:
  * P(good) = softmax([logit(" good"), logit(" poor")] / T)[0]   (Q-Bench; T = 1 here, 100 in its A3 score)
  * Q-Align: softmax over " excellent", " good", " fair", " poor", " bad" (T = 1), score = sum(p * (1, .75, .5,
    .25, 0)) on [0, 1], and 1 + 4 * score on the 1-5 scale.
Token ids are looked up in the model's tokenizer, leading space included (the first piece if a word splits).
Batches are left-padded with explicit position ids, so a batched rating equals the unbatched one.

mPLUG-Owl2 checkpoints (One-Align, Q-Instruct-Owl2, DeQA-Score) are rated by default as Q-Align's published
scorer rates them (`q_align/evaluate/scorer.py`): its own prompt (QALIGN_PROMPT, not the chat template), each
level's id the word's first token when encoded alone after BOS, the image padded to a square with the image
processor's mean colour.  `--rating-prompt one-align` uses One-Align's `score()` wording instead (its answer
starts "The image of the quality is"), `q-bench` asks the Q-Bench way; each rating says which prompt it used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .chat import batch_inputs, prompt_text
from .types import ANSWER_PREFIX, LEVELS, RATING_QUESTION, ModelLoadError, Rating, Turn, ratings_from_level_logits

if TYPE_CHECKING:
    from .weights import LocalWeights

QALIGN_PROMPT = ("USER: How would you rate the quality of this image?\n<|image|>\nASSISTANT: The quality of the "
                 "image is")
# One-Align's own `score()` (and pyiqa's "qalign", which calls it) fills its template's arguments in another
# order, so its answer starts "The image of the quality is"
ONE_ALIGN_PROMPT = QALIGN_PROMPT.replace("The quality of the image is", "The image of the quality is")
OWL2_PROMPTS = {"q-align": QALIGN_PROMPT, "one-align": ONE_ALIGN_PROMPT}


def first_token_id(tokenizer, word: str) -> int:
    ids = tokenizer.encode(" " + word, add_special_tokens=False)
    if not ids:
        raise ValueError(f"the tokenizer cannot encode {word!r}")
    return ids[0]


def alone_token_id(tokenizer, word: str) -> int:
    """Q-Align's and Q-Bench's rule for LLaMA-style tokenizers: `tokenizer(word).input_ids[1]`, the word's first
    token after BOS when it is encoded on its own ("▁good")."""
    ids = tokenizer(word)["input_ids"]
    ids = ids[1:] if ids[:1] == [tokenizer.bos_token_id] else ids
    if not ids:
        raise ValueError(f"the tokenizer cannot encode {word!r}")
    return ids[0]


def level_token_ids(tokenizer, alone: bool = False) -> list[int]:
    return [(alone_token_id if alone else first_token_id)(tokenizer, level) for level in LEVELS]


def prompt_name(loaded: LocalWeights) -> str:
    """The rating prompt a model uses: the one asked for, else its family's (Q-Align's for mPLUG-Owl2)."""
    name = getattr(loaded, "rating_prompt", "auto")
    return loaded.family.rating_prompt if name == "auto" else name


def rating_prompt(loaded: LocalWeights) -> tuple[str, list[int]]:
    """(prompt text, the five levels' token ids) for the model's rating prompt."""
    name, family = prompt_name(loaded), loaded.family
    if name in OWL2_PROMPTS:
        if family.rating_prompt not in OWL2_PROMPTS:  # the prompts' <|image|> is mPLUG-Owl2's placeholder
            raise ModelLoadError(f"{loaded.spec}: the {name} prompt is written for mPLUG-Owl2 checkpoints; use "
                                 "--rating-prompt q-bench (or auto) for this model")
        return OWL2_PROMPTS[name], level_token_ids(loaded.tokenizer, alone=True)
    text = prompt_text(loaded, [Turn(RATING_QUESTION)], True, ANSWER_PREFIX)
    return text, level_token_ids(loaded.tokenizer, family.level_ids_alone)


def ratings_from_logits(logits: np.ndarray, level_ids: list[int], temperature: float = 1.0) -> list[Rating]:
    """logits: (batch, vocab) at the position after the answer prefix."""
    return ratings_from_level_logits(logits[:, level_ids], temperature)


def rating_forward(model, inputs: dict, adapter_names: list[str] | None = None):
    """The model's (B, vocab) logits at the last position, computed as cheaply as transformers allows: no KV cache
    written, only the last position through the LM head, and no attention mask when no row is padded (LLaVA's
    prompts all have the same length: 576 image tokens), so attention takes the fused causal (flash) path."""
    extra = {}
    mask = inputs.get("attention_mask")
    if mask is not None and "qwen2" not in model.config.model_type:  # Qwen2-VL derives 3-D positions itself
        if bool(mask.all()):
            inputs = {k: v for k, v in inputs.items() if k != "attention_mask"}
        else:  # left padding: positions count real tokens only, so a padded row equals its unbatched self
            extra["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
    if adapter_names is not None:
        extra["adapter_names"] = adapter_names
    return model(**inputs, **extra, logits_to_keep=1, use_cache=False).logits[:, -1]


def compile_blocks(model, mode: str | None = None) -> int:
    """Regional compilation: each repeated block (decoder and vision-encoder layers) compiled once by
    torch.compile and reused by all its copies -- fused norms, rotary and activations for a one-off ~20 s on a
    GPU, instead of compiling the whole model.  Worth it for long rating jobs; returns the blocks compiled."""
    blocks = [module for module in model.modules()
              if type(module).__name__.endswith(("EncoderLayer", "DecoderLayer"))]
    for block in blocks:
        # static for the job's batch shape; a different last batch goes dynamic.  Compiling again replaces it.
        block.compile(dynamic=None, mode=mode)
    return len(blocks)


def next_token_logits(loaded: LocalWeights, images: list[Image.Image], question: str = RATING_QUESTION,
                      prefix: str = ANSWER_PREFIX, adapter_names: list[str] | None = None,
                      text: str | None = None) -> np.ndarray:
    """(B, vocab) logits after the prompt: `text` as it is, or the chat template with `question` and `prefix`."""
    import torch

    text = text if text is not None else prompt_text(loaded, [Turn(question)], True, prefix)
    inputs = batch_inputs(loaded, [text] * len(images), images)
    with loaded.lock, torch.inference_mode():
        logits = rating_forward(loaded.model, inputs, adapter_names)
    return logits.float().cpu().numpy()


def rate(loaded: LocalWeights, images: list[Image.Image], batch_size: int = 16, temperature: float = 1.0,
         adapter_names: list[str] | None = None) -> list[Rating]:
    """One rating per image; a micro model rates a large image by its native-resolution tiles (models/tiles.py)."""
    from .tiles import mean_rating, native_tiles, tiled

    if tiled(loaded):
        groups = [native_tiles(image.convert("RGB")) or [image] for image in images]
        names = [name for group, name in zip(groups, adapter_names) for _ in group] if adapter_names else None
        flat = _rate_images(loaded, [tile for group in groups for tile in group], batch_size, temperature, names)
        bounds = np.cumsum([0] + [len(group) for group in groups])
        return [mean_rating(flat[start:end]) for start, end in zip(bounds[:-1], bounds[1:])]
    return _rate_images(loaded, images, batch_size, temperature, adapter_names)


def _rate_images(loaded: LocalWeights, images: list[Image.Image], batch_size: int, temperature: float,
                 adapter_names: list[str] | None) -> list[Rating]:
    text, level_ids = rating_prompt(loaded)
    out: list[Rating] = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        names = adapter_names[start:start + batch_size] if adapter_names else None
        logits = next_token_logits(loaded, chunk, adapter_names=names, text=text)
        out += ratings_from_logits(logits, level_ids, temperature)
    for rating in out:
        rating.prompt = prompt_name(loaded)
    return out
