"""A remote OpenAI-compatible endpoint as a chat side (OpenAI, vLLM, SGLang, Ollama, ...).

Spec: openai:MODEL[@BASE_URL].  The key is bound per request (`bind`: the Chat tab's password box of that
browser session), else the environment's where the key policy allows (see qinstruct.endpoints); it lives only
in this object's client and is never logged or written anywhere.

Rating asks the model to continue "The quality of the image is" (vLLM / SGLang honour
continue_final_message) with top logprobs of the next token; P(good) and the five-level distribution come
from those logprobs.  A server without logprobs gets the answer's level word as a one-hot distribution, and
the Rating says so (approximate=True).
"""
from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
from PIL import Image

from ..endpoints import (
    NO_KEY,
    KeyPolicy,
    blocked_reason,
    missing_key_message,
    needs_key,
    reason_of,
    status_message,
    unknown_host,
)
from ..errors import UserError, first_line
from .types import (
    ANSWER_PREFIX,
    LEVELS,
    RATING_QUESTION,
    GenerationOptions,
    ModelLoadError,
    Rating,
    Turn,
    image_list,
    ratings_from_level_logits,
)


def image_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def remote_messages(turns: list[Turn], image: Image.Image | list | None) -> list[dict]:
    """OpenAI chat messages; the first user turn carries the question's images (one part each), then the text."""
    messages = []
    for k, turn in enumerate(turns):
        pictures = image_list(image) if k == 0 else []
        content: list[dict] = [{"type": "image_url", "image_url": {"url": image_data_url(picture)}}
                               for picture in pictures] + [{"type": "text", "text": turn.user}]
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
    key_policy: KeyPolicy | None = field(default=None, repr=False)  # None: the process's (access.process_policy)
    timeout: float = 60.0
    max_retries: int = 2
    trained: bool = True
    kind: ClassVar[str] = "remote"

    @property
    def label(self) -> str:
        return f"{self.model_name} @ {self.base_url}"

    def bind(self, api_key: str | None) -> RemoteModel:
        """A copy for one request with that user's key: the shared object never holds a user's key."""
        return replace(self, api_key=api_key or None)

    def client(self):
        from ..access import process_policy

        keys = self.key_policy or process_policy().keys
        try:
            keys.check(self.base_url)
        except UserError as error:  # a URL this process may not call: said for this model
            raise ModelLoadError(f"{self.spec}: {error}") from None
        key = keys.key_for(self.base_url, self.api_key)
        if key == NO_KEY and needs_key(self.base_url):  # refused here, not after the client's retries
            raise ModelLoadError(f"{self.spec}: {missing_key_message(self.base_url)}")
        return keys.client(self.base_url, key, timeout=self.timeout, max_retries=self.max_retries)

    def _call(self, **request):
        """One request; transport and HTTP failures become one line naming the endpoint."""
        import openai

        try:
            return self.client().chat.completions.create(model=self.model_name, **request)
        except openai.APIStatusError as error:  # its status and reason, never its body (it may hold anything)
            raise ModelLoadError(f"{self.spec}: the endpoint answered {status_message(error.status_code)}"
                                 f"{reason_of(error)}") from None
        except openai.APITimeoutError:
            raise ModelLoadError(f"{self.spec}: the endpoint did not answer within {self.timeout:g} s") from None
        except openai.APIConnectionError as error:
            blocked = blocked_reason(error)
            why = f": {blocked}" if blocked else ": unknown host (check the URL and the network)" \
                if unknown_host(error) else ""
            raise ModelLoadError(f"{self.spec}: cannot reach {self.base_url}{why}") from None
        except openai.OpenAIError as error:
            raise ModelLoadError(f"{self.spec}: {first_line(error)}") from None
        except ValueError:  # a 200 whose body is not JSON (a proxy's error page, say)
            raise ModelLoadError(f"{self.spec}: the endpoint answered with something that is not JSON") from None

    def stream(self, turns: list[Turn], image: Image.Image | None,
               options: GenerationOptions | None = None) -> Iterator[str]:
        import openai

        options = options or GenerationOptions()
        stream = self._call(messages=remote_messages(turns, image), stream=True,
                            max_tokens=options.max_new_tokens, temperature=max(options.temperature, 0.0),
                            top_p=options.top_p, seed=options.seed)
        import httpx2  # the openai client's HTTP library

        refusal, finished = "", False
        try:
            for chunk in stream:
                if not hasattr(chunk, "choices"):  # a 200 that is no event stream (a plain JSON answer, a page)
                    raise ModelLoadError(f"{self.spec}: the endpoint answered, but not with a chat completion "
                                         "stream (is it an OpenAI-compatible server?)")
                choice = chunk.choices[0] if chunk.choices else None
                if choice is not None and choice.delta is not None:
                    if choice.delta.content:
                        yield choice.delta.content
                    refusal += getattr(choice.delta, "refusal", None) or ""
                finished = finished or bool(choice is not None and choice.finish_reason)
        except (openai.OpenAIError, httpx2.HTTPError, ValueError) as error:  # cut off, or not JSON
            raise ModelLoadError(f"{self.spec}: the answer stream broke off ({first_line(error)})") from None
        if not finished:
            raise ModelLoadError(f"{self.spec}: the answer stream ended before the answer did")
        if refusal:
            raise ModelLoadError(f"{self.spec}: the model refused ({refusal.strip()[:200]})")

    def rate_one(self, image: Image.Image) -> Rating:
        messages = remote_messages([Turn(RATING_QUESTION)], image)
        messages.append({"role": "assistant", "content": ANSWER_PREFIX})
        response = self._call(messages=messages, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=20,
                              extra_body={"continue_final_message": True, "add_generation_prompt": False})
        if not getattr(response, "choices", None):
            raise ModelLoadError(f"{self.spec}: the endpoint returned no answer")
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
        return ratings_from_level_logits(np.array([[scores[level] for level in LEVELS]]), approximate=approximate)[0]

    def rate(self, images: list[Image.Image], batch_size: int = 16) -> list[Rating]:
        return [self.rate_one(image) for image in images]

    def answer_many(self, questions, images, options=None) -> list[str]:
        return ["".join(self.stream([Turn(q)], image, options)) for q, image in zip(questions, images)]

    def option_losses(self, question, options, image):
        raise ModelLoadError(f"{self.spec}: the likelihood protocol needs the model's own losses, which an "
                             "endpoint does not give; use the letter protocol")

    def count_tokens(self, text: str) -> int | None:
        return None  # the endpoint's tokenizer is not here

    def describe(self) -> dict:
        return {"spec": self.spec, "kind": self.kind, "label": self.label, "trained": self.trained,
                "model": self.model_name, "base_url": self.base_url}

    def warm_up(self) -> None:
        pass  # nothing loads here

    def compile(self) -> int:
        return 0  # nothing to compile: the endpoint runs the model
