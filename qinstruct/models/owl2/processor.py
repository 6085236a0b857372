"""mPLUG-Owl2's processor: the original conversation format, the original tokenisation around images, and the
CLIP image processor at 448 px.

Conversation (the original's `mplug_owl2` template): "USER: <|image|>question ASSISTANT: answer</s>USER: ...",
the image first in the first user turn, no system prompt.  Tokenisation follows the original
`tokenizer_image_token`: the text is cut at each <|image|>, each piece tokenised on its own (as a fresh string,
BOS first), the pieces' BOS tokens dropped after the first, and each <|image|> becomes `image_tokens` copies of
`image_placeholder_id` (the abstractor's queries and its end-of-image token), which the model overwrites with the
image's features.  Rows are padded on the tokenizer's padding side.
"""
from __future__ import annotations

from .config import IMAGE_PLACEHOLDER

OWL2_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<|image|>{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %} {% elif message['role'] == 'assistant' %}ASSISTANT: {% for item in message['content'] %}"
    "{{ item['text'] }}{% endfor %}</s>{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
# the mean and standard deviation CLIP was trained with: the released checkpoints' preprocessor configs
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class MplugOwl2Processor:
    def __init__(self, image_processor, tokenizer, image_tokens: int, image_placeholder_id: int,
                 chat_template: str = OWL2_TEMPLATE):
        self.image_processor, self.tokenizer = image_processor, tokenizer
        self.image_tokens, self.image_placeholder_id = image_tokens, image_placeholder_id
        self.chat_template = chat_template

    @classmethod
    def from_folder(cls, path: str, config) -> MplugOwl2Processor:
        """A released checkpoint's folder (tokenizer files, and preprocessor_config.json when it has one)."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        return cls(image_processor_for(path, config.vision.image_size), tokenizer, config.image_tokens,
                   config.image_placeholder_id)

    def save_pretrained(self, folder) -> None:
        self.image_processor.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    def apply_chat_template(self, messages: list[dict], add_generation_prompt: bool = False, tokenize: bool = False,
                            **kwargs) -> str:
        if tokenize:
            raise ValueError("mPLUG-Owl2's processor renders the template as text; tokenise with the processor")
        return self.tokenizer.apply_chat_template(messages, chat_template=self.chat_template, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)

    def token_ids(self, text: str) -> list[int]:
        """One prompt's ids, cut at each <|image|> as the original cuts it."""
        tokenizer, bos = self.tokenizer, self.tokenizer.bos_token_id
        pieces = [tokenizer(piece)["input_ids"] if piece else [] for piece in text.split(IMAGE_PLACEHOLDER)]
        keep_bos = bool(pieces[0]) and pieces[0][0] == bos
        ids = [bos] if keep_bos else []
        for index, piece in enumerate(pieces):
            if index:
                ids += [self.image_placeholder_id] * self.image_tokens
            ids += piece[1:] if keep_bos and piece[:1] == [bos] else piece
        return ids

    def __call__(self, text=None, images=None, return_tensors: str = "pt", padding: bool | str = False, **_ignored):
        import torch
        from transformers import BatchFeature

        texts = [text] if isinstance(text, str) else list(text or [])
        rows = [self.token_ids(t) for t in texts]
        placeholders = sum(t.count(IMAGE_PLACEHOLDER) for t in texts)
        pictures = list(images) if images is not None else []
        if pictures and isinstance(pictures[0], (list, tuple)):
            pictures = [picture for group in pictures for picture in group]
        if placeholders != len(pictures):
            raise ValueError(f"{placeholders} {IMAGE_PLACEHOLDER} placeholders in the text but {len(pictures)} images")
        longest = max(map(len, rows), default=0)
        if len(set(map(len, rows))) > 1 and not padding:
            raise ValueError("rows of different lengths: pass padding=True")
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        ids, mask = [], []
        for row in rows:
            fill = longest - len(row)
            ids.append([pad] * fill + row if left else row + [pad] * fill)
            mask.append([0] * fill + [1] * len(row) if left else [1] * len(row) + [0] * fill)
        data = {"input_ids": torch.tensor(ids, dtype=torch.long), "attention_mask": torch.tensor(mask)}
        if pictures:
            data["pixel_values"] = self.image_processor(images=pictures, return_tensors="pt")["pixel_values"]
        return BatchFeature(data)

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)


def image_processor_for(path: str | None, image_size: int):
    """The checkpoint's CLIP image processor (the releases ship one at 448 px; a folder or a cached hub id), else
    CLIP's at the tower's size."""
    from transformers.models.clip import CLIPImageProcessorPil

    if path:
        try:
            return CLIPImageProcessorPil.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError):
            pass  # no preprocessor_config.json: the original's defaults below
    return CLIPImageProcessorPil(size={"shortest_edge": image_size}, crop_size={"height": image_size,
                                                                                  "width": image_size},
                                 image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))
