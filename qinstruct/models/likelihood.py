"""Option likelihoods: how well a model predicts each answer text after a question (Q-Bench's perplexity
variant of A1, `example_code_for_idefics/a1_perception_demo_perplexity.py`): labels = input ids, the mean loss
over the whole sequence; and the mean over the option's own tokens, the cleaner column."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .chat import batch_inputs, prompt_text
from .types import Turn, image_list

if TYPE_CHECKING:
    from .weights import LocalWeights


def option_losses(model: LocalWeights, question: str, options: list[str], image
                  ) -> tuple[list[float], list[float]]:
    """(whole-sequence mean loss, option-tokens mean loss) per option, the options of one question batched."""
    import torch

    count = len(image_list(image))  # a pair question shows two
    prompt = prompt_text(model, [Turn(question)], count)
    texts = [f"{prompt} {option}" for option in options]
    inputs = batch_inputs(model, texts, [image] * len(texts) if count else None)
    option_lengths = [len(model.tokenizer(" " + option, add_special_tokens=False)["input_ids"]) for option in options]
    mask = inputs.get("attention_mask")
    with model.lock, torch.inference_mode():
        extra = {}
        if mask is not None and "qwen2" not in model.model.config.model_type:
            extra["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)  # left padding: real positions
        if model.shared:  # one PeftModel for two sides: every row is this side's
            extra["adapter_names"] = [model.adapter] * len(texts)
        logits = model.model(**inputs, **extra, use_cache=False).logits.float()
    ids, vocabulary = inputs["input_ids"], logits.shape[-1]
    targets = ids[:, 1:]
    log_probs = torch.log_softmax(logits[:, :-1], dim=-1).gather(
        -1, targets.clamp(0, vocabulary - 1)[..., None])[..., 0]
    # a target counts when it and the token predicting it are real (not the first token after left padding), and
    # when it is a token at all: mPLUG-Owl2's image placeholders lie outside the vocabulary (its original gives
    # them no label), and gathering them failed every question ("index 53 is out of bounds")
    real = (mask[:, 1:] * mask[:, :-1]).bool() if mask is not None else torch.ones_like(log_probs, dtype=torch.bool)
    real &= (targets >= 0) & (targets < vocabulary)
    whole = [float(-(log_probs[r][real[r]]).mean()) for r in range(len(texts))]
    tail = [float(-(log_probs[r, -n:]).mean()) for r, n in enumerate(option_lengths)]
    return whole, tail
