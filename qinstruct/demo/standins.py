"""Untrained stand-ins for the demo's baseline and tuned models, until the tuning issue trains micro models:
a tiny random LLaVA (baseline) and a random LoRA adapter on it (tuned), saved in the workspace so that the Chat
tab works end to end, including the one-base-two-sides path.  Both say plainly that they are untrained."""
from __future__ import annotations

import json
from pathlib import Path

BASELINE, TUNED = "demo-baseline-untrained", "demo-tuned-untrained-lora"


def ensure_standins(root: Path, models_dir: Path) -> tuple[str, str]:
    """Build the stand-ins in models_dir if missing; returns their specs relative to `root` (the workspace)."""
    base, tuned = models_dir / BASELINE, models_dir / TUNED
    if not (base / "qinstruct.json").is_file():
        from ..models.families import tiny_model

        model, processor = tiny_model("llava", seed=0)
        model.save_pretrained(base)
        processor.save_pretrained(base)
        (base / "qinstruct.json").write_text(json.dumps(
            {"label": "demo baseline (untrained: random weights)", "trained": False}))
    if not (tuned / "qinstruct.json").is_file():
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForImageTextToText

        torch.manual_seed(1)
        model = AutoModelForImageTextToText.from_pretrained(base)
        config = LoraConfig(r=8, lora_alpha=16, target_modules=r".*language_model.*\.(q_proj|v_proj)",
                            init_lora_weights=False)  # random A and B: the two sides answer differently
        peft_model = get_peft_model(model, config)
        peft_model.peft_config["default"].base_model_name_or_path = f"../{BASELINE}"
        peft_model.save_pretrained(tuned)
        (tuned / "qinstruct.json").write_text(json.dumps(
            {"label": "demo tuned (untrained: random LoRA on the baseline)", "trained": False}))
    return str(base.relative_to(root)), str(tuned.relative_to(root))
