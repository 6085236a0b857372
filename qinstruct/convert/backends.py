"""Conversion backends (registry): `offline` (rule-based, no key) and `openai` (any OpenAI-compatible server).

A backend turns one feedback into a Conversion: its instruction items (LLaVA JSON with provenance), flags, the
exact prompts, the raw responses and the token usage.  The GPT backend validates every response, asks once more
with the validation errors when it is invalid, and flags what is still wrong instead of dropping it.
"""
from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..endpoints import (
    DEFAULT_MODEL,
    NO_KEY,
    KeyPolicy,
    blocked_reason,
    default_base_url,
    missing_key_message,
    needs_key,
    reason_of,
    status_message,
    unknown_host,
)
from ..errors import UserError, first_line
from . import prompts
from .cache import ResponseCache
from .items import SUBSETS, Item, Provenance, direct, mcq, stable_rng, validate, yes_no, yes_no_balance
from .offline import PATHWAY_PROMPTS, convert_feedback
from .offline import PROMPT_VERSION as OFFLINE_VERSION


@dataclass(frozen=True)
class FeedbackRef:
    feedback_id: str
    text: str
    image: str | None = None


@dataclass
class Conversion:
    feedback_id: str
    items: list[dict] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    prompts: dict[str, str] = field(default_factory=dict)  # group -> exact request
    raw: dict[str, str] = field(default_factory=dict)  # group -> raw response text
    calls: int = 0  # API calls made for this feedback (0 when every group came from the cache)
    cached_groups: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_json(self) -> dict:
        return {"feedback_id": self.feedback_id, "items": self.items, "flags": self.flags}


class ConversionError(UserError, RuntimeError):
    """A feedback that could not be converted in this run (transport failure after retries, auth error, ...);
    it is not written, so the next run tries it again."""


_BACKENDS: dict[str, Callable] = {}


def register_backend(name: str):
    def decorate(factory):
        _BACKENDS[name] = factory
        return factory
    return decorate


def create_backend(name: str, **overrides):
    if name not in _BACKENDS:
        raise KeyError(f"unknown backend {name!r}; known: {', '.join(_BACKENDS)}")
    return _BACKENDS[name](**overrides)


def list_backends() -> list[str]:
    return list(_BACKENDS)


def backend_class(name: str):
    """The registered class: its `remote` attribute says whether it calls an endpoint (model, URL, key, cost)."""
    if name not in _BACKENDS:
        raise KeyError(f"unknown backend {name!r}; known: {', '.join(_BACKENDS)}")
    return _BACKENDS[name]


def _finish(ref: FeedbackRef, items: list[Item], provenance: Provenance) -> list[dict]:
    return [item.to_json(f"{ref.feedback_id}/{item.subset}/{k}", ref.image, provenance)
            for k, item in enumerate(items)]


@register_backend("offline")
class OfflineBackend:
    name, model, prompt_version = "offline", "rules", OFFLINE_VERSION
    remote = False  # no endpoint, no key, no cost

    def __init__(self, **_ignored):
        pass

    async def close(self) -> None:
        pass

    async def convert(self, ref: FeedbackRef, subsets: tuple[str, ...] = SUBSETS, on_delta=None) -> Conversion:
        items = convert_feedback(ref.text, ref.feedback_id, subsets)
        for item in items:
            item.flags = validate(item)
        provenance = Provenance(ref.feedback_id, self.name, self.model, self.prompt_version)
        return Conversion(ref.feedback_id, _finish(ref, items, provenance),
                          prompts={"offline": "rule-based: facts read with the low-level vocabulary, no prompt"})


# --------------------------------------------------------------------------------------------- GPT backend

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


def _choice_problems(entry: dict) -> list[str]:
    """What a multiple-choice entry from the model gets wrong before we build options from it."""
    answer = entry["answer"].strip().lower()
    distractors = [d.strip().lower() for d in entry["distractors"]]
    problems = []
    if answer in distractors:
        problems.append("the answer is not exactly one of the options (it is also a distractor)")
    if len(set(distractors)) != len(distractors):
        problems.append("duplicate options")
    if len(distractors) != 3:
        problems.append(f"{len(distractors)} distractors (need 3)")
    return problems


def _choice(subset: str, entry: dict, rng) -> list[Item]:
    item = mcq(subset, entry["question"], entry["answer"], entry["distractors"], rng)
    item.flags = _choice_problems(entry)
    return [item, direct(subset, entry["question"], entry["answer"])]


def parse_group(group: str, data: dict, ref: FeedbackRef) -> list[Item]:
    """A validated-shape JSON response -> items (MCQ and direct forms for what / how / choice questions)."""
    rng = stable_rng(ref.feedback_id, group)
    items: list[Item] = []
    if group == "extended":
        for conversation in data.get("conversations", []):
            turns = [(t["question"], t["answer"]) for t in conversation.get("turns", [])]
            items.append(Item("extended", turns, "conversation"))
        return items
    for entry in data.get("yes_no", []):
        items.append(yes_no("yes-no", entry["question"], entry["answer"] == "yes"))
    for subset in ("what", "how"):
        for entry in data.get(subset, []):
            items += _choice(subset, entry, rng)
    for entry in data.get("context", []):
        if entry.get("kind") == "yes-no":
            items.append(yes_no("context", entry["question"], entry["answer"].strip().lower() == "yes"))
        else:
            items += _choice("context", entry, rng)
    return items


def problems_of(group: str, content: str | None, refusal: str | None, ref: FeedbackRef) -> tuple[list[Item], list[str]]:
    if refusal:
        return [], [f"refused: {refusal}"]
    try:
        data = json.loads(content or "")
    except ValueError as error:
        return [], [f"not valid JSON ({error.msg} at character {error.pos})"]
    if not isinstance(data, dict) or any(k not in data for k in prompts.SCHEMAS[group]["required"]):
        return [], [f"missing fields: expected {', '.join(prompts.SCHEMAS[group]['required'])}"]
    try:
        items = parse_group(group, data, ref)
    except (KeyError, TypeError, AttributeError) as error:
        return [], [f"does not follow the schema ({error})"]
    problems = []
    for item in items:
        item.flags = item.flags + validate(item)
        problems += [f"{item.subset} question {item.turns[0][0].splitlines()[0]!r}: {p}" for p in item.flags]
    yes, no = yes_no_balance([i for i in items if i.subset == "yes-no"])
    if yes + no >= 3 and min(yes, no) == 0:
        problems.append(f"yes/no questions are unbalanced ({yes} yes, {no} no)")
    if group == "vqa" and not items:
        problems.append("no questions")
    return items, problems


@register_backend("openai")
class OpenAIBackend:
    name = "openai"
    prompt_version = prompts.PROMPT_VERSION
    remote = True

    def __init__(self, model: str = DEFAULT_MODEL, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, max_attempts: int = 5, cache: ResponseCache | None = None,
                 backoff_base: float = 0.5, key_policy: KeyPolicy | None = None, **_ignored):
        from ..access import process_policy

        self.model, self.base_url, self.cache, self.timeout = model, base_url or default_base_url(), cache, timeout
        key_policy = key_policy or process_policy().keys  # not given: this process's (a studio job: the studio's)
        key_policy.check(self.base_url)
        self.max_attempts, self.backoff_base = max_attempts, backoff_base
        self._api_key, self._keys = key_policy.key_for(self.base_url, api_key), key_policy
        if self._api_key == NO_KEY and needs_key(self.base_url):  # refused at once, not after retries
            raise ConversionError(missing_key_message(self.base_url))
        self._clients: dict[int, object] = {}

    @property
    def _client(self):
        """One async client per event loop (an httpx client cannot outlive the loop it was made in)."""
        loop = id(asyncio.get_running_loop())
        if loop not in self._clients:
            self._clients = {loop: self._keys.client(self.base_url, self._api_key, asynchronous=True,
                                                     timeout=self.timeout, max_retries=0)}
        return self._clients[loop]

    async def close(self) -> None:
        """Close the HTTP clients inside their event loop (else they complain when collected later)."""
        for client in self._clients.values():
            await client.close()
        self._clients = {}

    def __repr__(self) -> str:  # the key never appears in logs or reprs
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    async def _request(self, messages: list[dict], group: str, on_delta=None):
        import openai

        for attempt in range(1, self.max_attempts + 1):
            try:
                if on_delta is None:
                    response = await self._client.chat.completions.create(
                        model=self.model, messages=messages, temperature=0,
                        response_format=prompts.response_format(group))
                    return chat_reply(response, self.base_url)
                text, usage = "", None
                stream = await self._client.chat.completions.create(
                    model=self.model, messages=messages, temperature=0, stream=True,
                    stream_options={"include_usage": True}, response_format=prompts.response_format(group))
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                        text += chunk.choices[0].delta.content
                        on_delta(group, chunk.choices[0].delta.content)
                    usage = chunk.usage or usage
                return text, None, _tokens(usage)
            except openai.RateLimitError as error:
                failure, delay = error, _retry_after(error) or self._backoff(attempt)
            except (openai.APITimeoutError, openai.APIConnectionError) as error:
                if blocked_reason(error):  # an internal address for a user's URL: refused, not retried
                    raise ConversionError(f"cannot reach {self.base_url}: {blocked_reason(error)}") from None
                if unknown_host(error):  # a typo in the URL, or no network: it will not heal in seconds
                    raise ConversionError(f"cannot reach {self.base_url}: unknown host (check the base URL and the "
                                          "network; not retried)") from None
                failure, delay = error, self._backoff(attempt)
            except openai.APIStatusError as error:
                if error.status_code not in RETRYABLE_STATUS:  # a wrong key or model will not heal either
                    raise ConversionError(f"{status_message(error.status_code)}{reason_of(error)}") from None
                failure, delay = error, self._backoff(attempt)
            if attempt == self.max_attempts:
                said = f"HTTP {failure.status_code}{reason_of(failure)}" if isinstance(failure, openai.APIStatusError) \
                    else first_line(failure)  # a status and its reason, never an endpoint's body
                raise ConversionError(f"gave up after {attempt} attempts ({type(failure).__name__}: {said})") from None
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        return min(20.0, self.backoff_base * 2 ** (attempt - 1)) * (1 + random.random() * 0.25)

    async def _group(self, group: str, ref: FeedbackRef, conversion: Conversion, on_delta=None) -> list[Item]:
        messages = prompts.messages(group, ref.text)
        conversion.prompts[group] = prompts.prompt_text(group, ref.text)
        key = self.cache.key(self.name, self.model, self.base_url, self.prompt_version, group, ref.text) \
            if self.cache else None
        if key and (hit := self.cache.get(key)) is not None:
            conversion.cached_groups += 1
            conversion.raw[group] = hit["content"]
            items, problems = problems_of(group, hit["content"], hit.get("refusal"), ref)
            conversion.flags += hit.get("flags", [])
            return items
        content, refusal, usage = await self._request(messages, group, on_delta)
        conversion.calls += 1
        conversion.prompt_tokens, conversion.completion_tokens = (conversion.prompt_tokens + usage[0],
                                                                  conversion.completion_tokens + usage[1])
        items, problems = problems_of(group, content, refusal, ref)
        if problems:  # one more try, telling the model what was wrong
            retry = messages + [{"role": "assistant", "content": content or refusal or ""},
                                {"role": "user", "content": "Your answer has these problems:\n- " +
                                 "\n- ".join(problems[:10]) + "\nReturn corrected JSON only."}]
            content, refusal, usage = await self._request(retry, group, on_delta)
            conversion.calls += 1
            conversion.prompt_tokens += usage[0]
            conversion.completion_tokens += usage[1]
            items, problems = problems_of(group, content, refusal, ref)
        flags = [f"{group}: {p}" for p in problems]
        conversion.flags += flags
        conversion.raw[group] = content or refusal or ""
        if self.cache:
            self.cache.put(key, {"content": content, "refusal": refusal, "flags": flags})
        return items

    async def judge(self, description: str, reference: str) -> dict[str, int]:
        """Q-Bench A2 scores of a description against a reference: {completeness, precision, relevance}, each
        0-2; the same retries, cache and one corrective request as conversions; ConversionError if the judge
        never answers validly."""
        group = "a2-judge"
        key = self.cache.key(self.name, self.model, self.base_url, prompts.JUDGE_VERSION, group,
                             description + "\x00" + reference) if self.cache else None
        if key and (hit := self.cache.get(key)) is not None:
            return hit
        messages = prompts.judge_messages(description, reference)
        for _attempt in range(2):
            content, refusal, _ = await self._request(messages, group)
            try:
                scores = json.loads(content or "")
                scores = {k: scores[k] for k in ("completeness", "precision", "relevance")}
                if all(v in (0, 1, 2) and not isinstance(v, bool) for v in scores.values()):
                    if key:
                        self.cache.put(key, scores)
                    return scores
                problem = "each score must be 0, 1 or 2"
            except (ValueError, KeyError, TypeError):
                problem = refusal or "not the JSON object asked for"
            messages = messages + [{"role": "assistant", "content": content or refusal or ""},
                                   {"role": "user", "content": f"Invalid: {problem}. Return the JSON object only."}]
        raise ConversionError(f"the judge gave no valid scores ({problem})")

    async def convert(self, ref: FeedbackRef, subsets: tuple[str, ...] = SUBSETS, on_delta=None) -> Conversion:
        conversion = Conversion(ref.feedback_id)
        items: list[Item] = []
        if "pathway" in subsets:
            prompt = PATHWAY_PROMPTS[int(stable_rng(ref.feedback_id, "pathway").integers(len(PATHWAY_PROMPTS)))]
            items.append(Item("pathway", [(prompt, ref.text.strip())], "pathway"))
        for group, members in prompts.GROUPS.items():
            if any(s in subsets for s in members):
                items += [i for i in await self._group(group, ref, conversion, on_delta) if i.subset in subsets]
        provenance = Provenance(ref.feedback_id, self.name, self.model, self.prompt_version)
        conversion.items = _finish(ref, items, provenance)
        return conversion


def chat_reply(response, base_url: str) -> tuple[str | None, str | None, tuple[int, int]]:
    """(content, refusal, (prompt, completion) tokens) of a chat completion.  A server may answer 200 with
    something else (another API's JSON, no choices, a null message or content): the client then hands over None
    where a list or text belongs and the failure surfaced as "'NoneType' object is not subscriptable".  Said in
    one line instead, and not retried: the same server answers the same way."""
    problem, message = _completion_problem(response)
    if problem:
        raise ConversionError(f"{base_url}: the endpoint answered, but not with a chat completion ({problem})")
    refusal = getattr(message, "refusal", None)
    return message.content, refusal if isinstance(refusal, str) and refusal else None, \
        _tokens(getattr(response, "usage", None))


def _completion_problem(response) -> tuple[str | None, object]:
    """What keeps an answer from being a chat completion (None: it is one), and its first choice's message."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raw = response.to_dict() if hasattr(response, "to_dict") else response
        text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
        return f"no choices in {' '.join(text.split())[:120]}", None
    message = getattr(choices[0], "message", None)
    if message is None:
        return "its choice has no message", None
    content, refusal = getattr(message, "content", None), getattr(message, "refusal", None)
    if isinstance(refusal, str) and refusal and content is None:
        return None, message  # a refusal: flagged with its reason, as the model gave it
    if content is None:
        return "the message has no content", None
    if not isinstance(content, str):
        return f"the message's content is {type(content).__name__}, not text", None
    return None, message


def _tokens(usage) -> tuple[int, int]:
    """(prompt, completion) tokens as the server counted them; 0 for what it did not say."""
    def count(name: str) -> int:
        value = getattr(usage, name, None)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
    return count("prompt_tokens"), count("completion_tokens")


def _retry_after(error) -> float | None:
    try:
        value = error.response.headers.get("retry-after")
        return min(60.0, float(value)) if value is not None else None
    except (AttributeError, ValueError):
        return None



async def convert_once(backend, ref: FeedbackRef, subsets: tuple[str, ...] = SUBSETS, on_delta=None) -> Conversion:
    """One conversion in its own event loop (the Convert tab's preview), clients closed afterwards."""
    try:
        return await backend.convert(ref, subsets, on_delta)
    finally:
        await backend.close()
