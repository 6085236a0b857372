"""Run mPLUG-Owl2's original code (MIT, ../shared/reference/mplug_owl2) on a tiny random configuration and save
the checkpoint in the original layout with the original's outputs: the oracle tests/models/test_owl2.py checks
the native port against.  Runs only in a side environment with the transformers release the original needs
(4.32.x); `scripts/make_owl2_fixture` builds that environment and calls this.  Never imports qinstruct.

Writes OUT/: config.json + model.safetensors (original state-dict names), tokenizer files, preprocessor_config.json,
two PNG images and reference.json (logits, greedy tokens, Q-Align levels and scores, P(good)).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

LEVELS = ["excellent", "good", "fair", "poor", "bad"]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
QALIGN_PROMPT = ("USER: How would you rate the quality of this image?\n<|image|>\nASSISTANT: The quality of the "
                 "image is")
ONE_ALIGN_PROMPT = QALIGN_PROMPT.replace("The quality of the image is", "The image of the quality is")  # its score()
QBENCH_PROMPT = "USER: <|image|>Rate the quality of the image. ASSISTANT: The quality of the image is"
CHAT_PROMPT = "USER: <|image|>Describe the image. ASSISTANT:"
TEXT_PROMPT = "USER: Is a blurry photo good? ASSISTANT:"
PAIR_PROMPT = "USER: <|image|><|image|>Which image is sharper? ASSISTANT:"
CORPUS = [QALIGN_PROMPT, ONE_ALIGN_PROMPT, QBENCH_PROMPT, CHAT_PROMPT, TEXT_PROMPT, PAIR_PROMPT,
          "The image is sharp, clear, blurry, noisy, dark, bright, colourful and well exposed.",
          "The first image is sharper than the second image.", " ".join(LEVELS)]


def build_tokenizer(out: Path):
    """A word-level tokenizer with LLaMA's conventions (▁-prefixed words, <s> first), built with the side
    environment's tokenizers so that both sides read it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(replacement="▁",
                                                                                add_prefix_space=True),
                                                      pre_tokenizers.Punctuation()])
    tokenizer.decoder = decoders.Metaspace(replacement="▁", add_prefix_space=True)
    trainer = trainers.WordLevelTrainer(special_tokens=["<unk>", "<s>", "</s>"])
    tokenizer.train_from_iterator(CORPUS * 3 + [line.replace("\n", " \n ") for line in CORPUS], trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
    fast.save_pretrained(out)
    config = out / "tokenizer_config.json"
    data = json.loads(config.read_text())
    data["tokenizer_class"] = "PreTrainedTokenizerFast"  # read as it is, not rebuilt as a LLaMA pipeline
    config.write_text(json.dumps(data, indent=2))
    return fast


def build_model(vocab: int, seed: int):
    from mplug_owl2.model.modeling_mplug_owl2 import MPLUGOwl2Config, MPLUGOwl2LlamaForCausalLM

    visual = {"visual_model": dict(hidden_size=32, intermediate_size=64, projection_dim=32, num_hidden_layers=2,
                                   num_attention_heads=2, image_size=56, patch_size=14),
              "visual_abstractor": dict(num_learnable_queries=4, hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, intermediate_size=48, encoder_hidden_size=32,
                                        grid_size=4)}
    config = MPLUGOwl2Config(visual_config=visual, vocab_size=vocab, hidden_size=64, intermediate_size=96,
                             # multi-head, not grouped: the original's multiway K/V assume it (as do the 7B releases)
                             num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=256, bos_token_id=1,
                             eos_token_id=2)
    torch.manual_seed(seed)
    model = MPLUGOwl2LlamaForCausalLM(config).eval()
    with torch.no_grad():  # every weight random, norms included: the two modality paths must differ
        for name, parameter in model.named_parameters():
            if parameter.dim() == 1 or "norm" in name:
                parameter.add_(0.2 * torch.randn_like(parameter))
            else:
                parameter.mul_(4.0)  # larger weights: logits with clear winners, so greedy tokens are stable
    return model


def expand2square(image: Image.Image, fill) -> Image.Image:
    width, height = image.size
    side = max(width, height)
    canvas = Image.new(image.mode, (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def make_images(out: Path) -> list[Image.Image]:
    rng = np.random.RandomState(7)
    y, x = np.mgrid[0:60, 0:80]
    sharp = np.stack([x * 3, y * 4, (x + y) * 2], axis=-1) % 256
    noisy = np.clip(sharp + rng.normal(0, 60, sharp.shape), 0, 255)
    images = [Image.fromarray(sharp.astype(np.uint8)), Image.fromarray(noisy.astype(np.uint8)).resize((50, 70))]
    for index, image in enumerate(images):
        image.save(out / f"image{index}.png")
    return images


def published_keys(out: Path) -> None:
    """Every state-dict name and shape of mPLUG-Owl2-7B at 448 px as the original code builds it (on the meta
    device: no weights), for the real-shape check in the tests."""
    from mplug_owl2.model.modeling_mplug_owl2 import MPLUGOwl2Config, MPLUGOwl2LlamaForCausalLM

    config = MPLUGOwl2Config(rms_norm_eps=1e-5, max_position_embeddings=4096)  # LLaMA-2-7B; the visual defaults
    with torch.device("meta"):
        model = MPLUGOwl2LlamaForCausalLM(config)
    shapes = {name: list(tensor.shape) for name, tensor in model.state_dict().items()}
    out.write_text(json.dumps({"config": config.to_dict(), "shapes": shapes}, indent=0))
    print(f"wrote {out}: {len(shapes)} keys, {sum(p.numel() for p in model.parameters()):,} parameters")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    published_keys(args.out / "owl2_7b_published_keys.json")
    from mplug_owl2.mm_utils import tokenizer_image_token
    from transformers import CLIPImageProcessor

    tokenizer = build_tokenizer(args.out)
    model = build_model(len(tokenizer), args.seed)
    processor = CLIPImageProcessor(size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56},
                                   image_mean=CLIP_MEAN, image_std=CLIP_STD)
    processor.save_pretrained(args.out)
    images = make_images(args.out)
    fill = tuple(int(x * 255) for x in processor.image_mean)
    pixels = processor.preprocess([expand2square(im, fill) for im in images], return_tensors="pt")["pixel_values"]

    def ids(prompt: str) -> torch.Tensor:
        return tokenizer_image_token(prompt, tokenizer, return_tensors="pt")[None]

    reference: dict = {"transformers": __import__("transformers").__version__, "torch": torch.__version__,
                       "prompts": {}, "pixel_values_0": pixels[0].tolist()}
    with torch.inference_mode():
        for name, prompt, pictures in [("chat", CHAT_PROMPT, pixels[:1]), ("text", TEXT_PROMPT, None),
                                       ("pair", PAIR_PROMPT, pixels)]:
            logits = model(ids(prompt), images=pictures).logits[0]
            reference["prompts"][name] = {"prompt": prompt, "input_ids": ids(prompt)[0].tolist(),
                                          "logits": logits.tolist()}
        generated = model.generate(ids(CHAT_PROMPT), images=pixels[:1], max_new_tokens=12, do_sample=False,
                                   num_beams=1, use_cache=True)
        reference["greedy"] = {"prompt": CHAT_PROMPT, "tokens": generated[0, ids(CHAT_PROMPT).shape[1]:].tolist()}
        level_ids = [tokenizer(word).input_ids[1] for word in LEVELS]  # Q-Align's rule
        for name, prompt in [("q-align", QALIGN_PROMPT), ("one-align", ONE_ALIGN_PROMPT), ("q-bench", QBENCH_PROMPT)]:
            batch = ids(prompt).repeat(len(images), 1)
            last = model(batch, images=pixels).logits[:, -1]
            levels = torch.softmax(last[:, level_ids], dim=-1)
            good_poor = torch.softmax(last[:, [level_ids[1], level_ids[3]]], dim=-1)[:, 0]
            reference[name] = {"prompt": prompt, "level_ids": level_ids, "levels": levels.tolist(),
                               "score": (levels @ torch.tensor([1, 0.75, 0.5, 0.25, 0.0])).tolist(),
                               "score5": (levels @ torch.tensor([5.0, 4, 3, 2, 1])).tolist(),
                               "p_good": good_poor.tolist()}
    model.save_pretrained(args.out, safe_serialization=True)
    (args.out / "reference.json").write_text(json.dumps(reference))
    print(f"wrote {args.out}: {sum(p.numel() for p in model.parameters())} parameters; greedy "
          f"{reference['greedy']['tokens']}; Q-Align score5 {reference['q-align']['score5']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
