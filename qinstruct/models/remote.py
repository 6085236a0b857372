"""A remote OpenAI-compatible endpoint as a chat side (OpenAI, vLLM, SGLang, Ollama, ...).

Spec: openai:MODEL[@BASE_URL].  The key comes from the caller (the Chat tab's password box) or OPENAI_API_KEY;
it lives only in this object's client and is never logged or written anywhere.

Rating asks the model to continue "The quality of the image is" (vLLM / SGLang honour
continue_final_message) with top logprobs of the next token; P(good) and the five-level distribution come
from those logprobs.  A server without logprobs gets the answer's level word as a one-hot distribution, and
the Rating says so (approximate=True).
"""
from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from PIL import Image

from .chat import GenerationOptions, Turn
from .loading import ModelLoadError
from .rating import ANSWER_PREFIX, LEVEL_WEIGHTS, LEVELS, RATING_QUESTION, Rating

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def image_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def remote_messages(turns: list[Turn], image: Image.Image | None) -> list[dict]:
    messages = []
    for k, turn in enumerate(turns):
        content: list[dict] = [{"type": "text", "text": turn.user}]
        if image is not None and k == 0:
            content.insert(0, {"type": "image_url", "image_url": {"url": image_data_url(image)}})
        messages.append({"role": "user", "content": content})
        if turn.assistant is not None:
            messages.append({"role": "assistant", "content": turn.assistant})
    return messages


@dataclass
class RemoteModel:
    spec: str
    model_name: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    max_retries: int = 2
    label: str = ""
    trained: bool = True

    is_remote = True

    @classmethod
    def from_spec(cls, spec: str, api_key: str | None = None) -> "RemoteModel":
        body = spec[len("openai:"):]
        name, _, url = body.partition("@")
        if not name:
            raise ModelLoadError(f"{spec}: expected openai:MODEL[@BASE_URL]")
        url = url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        return cls(spec, name, url, api_key, label=f"{name} @ {url}")

    def client(self):
        from openai import OpenAI

        key = self.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed-for-local-servers"
        return OpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=self.max_retries)

    def stream(self, turns: list[Turn], image: Image.Image | None,
               options: GenerationOptions | None = None) -> Iterator[str]:
        options = options or GenerationOptions()
        stream = self.client().chat.completions.create(
            model=self.model_name, messages=remote_messages(turns, image), stream=True,
            max_tokens=options.max_new_tokens, temperature=max(options.temperature, 0.0), top_p=options.top_p,
            seed=options.seed)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    def rate_one(self, image: Image.Image) -> Rating:
        messages = remote_messages([Turn(RATING_QUESTION)], image)
        messages.append({"role": "assistant", "content": ANSWER_PREFIX})
        response = self.client().chat.completions.create(
            model=self.model_name, messages=messages, max_tokens=1, temperature=0.0, logprobs=True,
            top_logprobs=20, extra_body={"continue_final_message": True, "add_generation_prompt": False})
        choice = response.choices[0]
        scores = {level: -np.inf for level in LEVELS}
        if choice.logprobs and choice.logprobs.content:
            for candidate in choice.logprobs.content[0].top_logprobs:
                word = candidate.token.strip().lower()
                if word in scores:
                    scores[word] = max(scores[word], candidate.logprob)
        approximate = all(np.isinf(v) for v in scores.values())
        if approximate:  # no logprobs: take the level word of the answer
            text = (choice.message.content or "").lower()
            found = next((level for level in LEVELS if level in text), "fair")
            scores = {level: 0.0 if level == found else -np.inf for level in LEVELS}
        logits = np.array([scores[level] for level in LEVELS])
        finite = np.where(np.isinf(logits), -1e9, logits)
        levels = np.exp(finite - finite.max())
        levels /= levels.sum()
        pair = np.exp(finite[[1, 3]] - finite[[1, 3]].max())
        p_good = float(pair[0] / pair.sum())
        return Rating(p_good, dict(zip(LEVELS, map(float, levels))), float(levels @ LEVEL_WEIGHTS),
                      approximate=approximate)

    def rate(self, images: list[Image.Image], batch_size: int = 16) -> list[Rating]:
        return [self.rate_one(image) for image in images]
