"""Loading processors robustly, and an image-only Qwen2-VL processor.

Qwen2VLProcessor insists on a video processor, which needs torchvision; the studio only ever sends images,
so where torchvision is missing (this project's CPU environment) we build the processor from its image
processor and tokenizer alone.
"""
from __future__ import annotations

from pathlib import Path

from transformers import Qwen2VLProcessor


class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
    @classmethod
    def get_attributes(cls):
        return ["image_processor", "tokenizer"]

    def save_pretrained(self, save_directory, **kwargs):
        out = super().save_pretrained(save_directory, **kwargs)
        # Saved under the upstream class name, so that AutoProcessor (with torchvision) loads it too.
        config = Path(save_directory) / "processor_config.json"
        if config.exists():
            config.write_text(config.read_text().replace('"ImageOnlyQwen2VLProcessor"', '"Qwen2VLProcessor"'))
        return out


def load_processor(path: str, model_type: str, trust_remote_code: bool = False):
    from transformers import AutoProcessor, AutoTokenizer

    if model_type == "mplug_owl2":  # released checkpoints ship a tokenizer and an image processor, no processor
        from transformers import AutoConfig

        from .owl2 import MplugOwl2Processor

        return MplugOwl2Processor.from_folder(path, AutoConfig.from_pretrained(path, local_files_only=True))
    try:
        return AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code, local_files_only=True)
    except (ImportError, ValueError, OSError, TypeError, AttributeError) as error:
        if model_type not in ("qwen2_vl", "qwen2_5_vl"):
            raise
        from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

        try:
            image_processor = Qwen2VLImageProcessorPil.from_pretrained(path, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError):
            raise error from None
        template_file = Path(path) / "chat_template.jinja"
        template = template_file.read_text() if template_file.is_file() else getattr(tokenizer, "chat_template", None)
        return ImageOnlyQwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer, chat_template=template)
