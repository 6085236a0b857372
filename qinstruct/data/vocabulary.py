"""The curated low-level vocabulary (lowlevel_vocabulary.yaml) and a fast matcher over feedback text."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

import yaml

from .records import QUALITY_LEVELS


@dataclass(frozen=True)
class Vocabulary:
    attributes: dict[str, tuple[str, ...]]
    quality_levels: tuple[str, ...]

    @functools.cached_property
    def term_to_attribute(self) -> dict[str, str]:
        return {term: attribute for attribute, terms in self.attributes.items() for term in terms}

    @functools.cached_property
    def pattern(self) -> re.Pattern:
        """One alternation of every term, longest first so that 'motion blur' wins over 'blur'."""
        terms = sorted(self.term_to_attribute, key=len, reverse=True)
        return re.compile(r"(?<![\w-])(" + "|".join(re.escape(t) for t in terms) + r")(?![\w-])")

    def find_terms(self, text: str) -> list[str]:
        return self.pattern.findall(text.lower())


@functools.lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    data = yaml.safe_load(resources.files("qinstruct.data").joinpath("lowlevel_vocabulary.yaml").read_text())
    return Vocabulary({k: tuple(v) for k, v in data["attributes"].items()}, QUALITY_LEVELS)
