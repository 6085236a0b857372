"""mPLUG-Owl2 (the Q-Instruct, One-Align / Q-Align, Co-Instruct and DeQA-Score checkpoints) as a native
architecture on today's transformers.  Importing this package registers it with the Auto classes, so a released
checkpoint's folder (config.json with model_type "mplug_owl2") loads with `from_pretrained`: no remote code.
"""
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText

from .config import IMAGE_PLACEHOLDER, MODEL_TYPE, MplugOwl2Config
from .modeling import MplugOwl2ForConditionalGeneration
from .processor import MplugOwl2Processor

AutoConfig.register(MODEL_TYPE, MplugOwl2Config, exist_ok=True)
AutoModelForImageTextToText.register(MplugOwl2Config, MplugOwl2ForConditionalGeneration, exist_ok=True)
AutoModelForCausalLM.register(MplugOwl2Config, MplugOwl2ForConditionalGeneration, exist_ok=True)

__all__ = ["IMAGE_PLACEHOLDER", "MODEL_TYPE", "MplugOwl2Config", "MplugOwl2ForConditionalGeneration",
           "MplugOwl2Processor"]
