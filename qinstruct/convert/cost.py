"""Token counts and cost estimates before a job runs.

Tokens are counted with tiktoken when its encoding file is already cached on this machine (tiktoken downloads
it on first use, which the studio never does by itself); otherwise by the usual 4-characters-per-token rule,
and the estimate says it is approximate.  Expected output tokens per call are averages of the prompt's answers.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import yaml

EXPECTED_OUTPUT_TOKENS = {"vqa": 450, "extended": 500}
ENCODING_URLS = {"o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
                 "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"}


def load_prices(path: str | None = None) -> dict[str, dict[str, float]]:
    """The price table (USD per 1M tokens): MODEL: {input: N, output: N}; a file that is not one is said."""
    from ..config import ConfigError, read_yaml_mapping

    table = read_yaml_mapping(path) if path else yaml.safe_load(
        resources.files("qinstruct.convert").joinpath("prices.yaml").read_text())
    prices = {}
    for model, entry in table.items():
        try:
            prices[str(model)] = {"input": float(entry["input"]), "output": float(entry["output"])}
        except (TypeError, KeyError, ValueError):
            raise ConfigError(f"{path}: {model}: expected {{input: USD per 1M tokens, output: USD per 1M tokens}}, "
                              f"got {entry!r}") from None
    return prices


def _encoding_name(model: str) -> str:
    return "cl100k_base" if model.startswith(("gpt-4-", "gpt-3.5")) else "o200k_base"


def _cached_encoding(name: str):
    """tiktoken's encoding if its file is in tiktoken's cache (no download), else None."""
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not os.path.isfile(os.path.join(cache, hashlib.sha1(ENCODING_URLS[name].encode()).hexdigest())):
        return None
    import tiktoken

    return tiktoken.get_encoding(name)


@dataclass
class TokenCounter:
    model: str

    def __post_init__(self):
        self.encoding = _cached_encoding(_encoding_name(self.model))

    @property
    def exact(self) -> bool:
        return self.encoding is not None

    def count(self, text: str) -> int:
        if self.encoding is not None:
            return len(self.encoding.encode(text))
        return max(1, (len(text) + 3) // 4)

    def count_messages(self, messages: list[dict]) -> int:
        return sum(self.count(m["content"]) + 4 for m in messages) + 3  # chat framing tokens per message


@dataclass
class CostEstimate:
    calls: int
    cached_calls: int
    input_tokens: int
    output_tokens: int
    usd: float | None  # None: no price known for the model
    exact_tokens: bool

    def line(self, model: str) -> str:
        if self.calls == 0 and self.cached_calls == 0:
            return "no API calls: costs nothing"
        price = f"≈ ${self.usd:,.2f}" if self.usd is not None else "no price known for this model (local server?)"
        kind = "tiktoken" if self.exact_tokens else "approximate: ~4 characters per token"
        return (f"{self.calls:,} call(s) to make ({self.cached_calls:,} cached), {self.input_tokens:,} input + "
                f"~{self.output_tokens:,} output tokens ({kind}) on {model}: {price}")


def estimate(calls: Iterable[tuple[str, list[dict]]], cached_calls: int, model: str,
             prices: dict[str, dict[str, float]]) -> CostEstimate:
    """calls: (group, messages) of every request still to make (cached ones excluded), counted as they come."""
    counter = TokenCounter(model)
    count = input_tokens = output_tokens = 0
    for group, messages in calls:
        count += 1
        input_tokens += counter.count_messages(messages)
        output_tokens += EXPECTED_OUTPUT_TOKENS[group]
    return CostEstimate(count, cached_calls, input_tokens, output_tokens,
                        usage_cost(model, input_tokens, output_tokens, prices), counter.exact)


def usage_cost(model: str, input_tokens: int, output_tokens: int,
               prices: dict[str, dict[str, float]] | None = None) -> float | None:
    """USD for a number of tokens on `model` (None: no price known, e.g. a local server's model)."""
    price = (prices if prices is not None else load_prices()).get(model)
    return None if price is None else (input_tokens * price["input"] + output_tokens * price["output"]) / 1e6
