"""Facts in a pathway feedback, read with the curated low-level vocabulary: which distortions and attributes it
states (and whether it states their absence), how strongly, about which object and where, and its overall
quality conclusion.  The offline converter writes questions only from these facts, never from guesses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..data.vocabulary import load_vocabulary

SENTENCE = re.compile(r"(?<=[.!?;])\s+")
CLAUSE = re.compile(r",\s*|;\s*|\s+(?:and|but|while|whereas|although|though)\s+")
NEGATIONS = ("no ", "not ", "free of", "without", "lack of", "isn't", "aren't", "absence of", "nor ", "barely ",
             "hardly ", "scarcely ")
INTENSITY = {  # word -> level: 1 slight ... 3 strong
    "slight": 1, "slightly": 1, "faint": 1, "faintly": 1, "mild": 1, "mildly": 1, "a little": 1, "light": 1,
    "somewhat": 2, "noticeable": 2, "noticeably": 2, "moderate": 2, "moderately": 2, "some": 2, "clear": 2,
    "modest": 1, "strong": 3, "strongly": 3, "heavy": 3, "heavily": 3, "severe": 3, "severely": 3,
    "extreme": 3, "extremely": 3, "very": 3, "obvious": 3, "overwhelming": 3, "significant": 3, "serious": 3,
}
STRENGTH_WORDS = {1: "slight", 2: "moderate", 3: "severe"}
POSITIONS = ("top left", "top right", "bottom left", "bottom right", "left", "right", "top", "bottom", "centre",
             "center", "middle", "foreground", "background")
QUALITY_WORDS = ("excellent", "good", "fair", "poor", "bad", "acceptable", "average", "low", "high", "terrible")
QUALITY_NORMAL = {"acceptable": "fair", "average": "fair", "low": "poor", "terrible": "bad", "high": "good"}

# term -> (distortion noun a question can name, adjective for "is the image ...?"); None: not a distortion
DISTORTIONS: dict[str, tuple[str, str]] = {
    "motion blur": ("motion blur", "blurred"), "streaks": ("motion blur", "blurred"),
    "streaked": ("motion blur", "blurred"), "out of focus": ("out-of-focus blur", "out of focus"),
    "defocus": ("out-of-focus blur", "out of focus"), "defocused": ("out-of-focus blur", "out of focus"),
    "blur": ("blur", "blurry"), "blurry": ("blur", "blurry"), "blurred": ("blur", "blurry"),
    "blurriness": ("blur", "blurry"), "smeared": ("blur", "blurry"), "smudged": ("blur", "blurry"),
    "unsharp": ("blur", "blurry"), "soft": ("blur", "blurry"),
    "noise": ("noise", "noisy"), "noisy": ("noise", "noisy"), "grain": ("noise", "noisy"),
    "grainy": ("noise", "noisy"), "speckle": ("noise", "noisy"), "speckled": ("noise", "noisy"),
    "specks": ("noise", "noisy"), "salt-and-pepper": ("noise", "noisy"),
    "over-exposed": ("over-exposure", "over-exposed"), "overexposed": ("over-exposure", "over-exposed"),
    "over-exposure": ("over-exposure", "over-exposed"), "washed out": ("over-exposure", "over-exposed"),
    "blown out": ("over-exposure", "over-exposed"), "too bright": ("over-exposure", "over-exposed"),
    "under-exposed": ("under-exposure", "under-exposed"), "underexposed": ("under-exposure", "under-exposed"),
    "too dark": ("under-exposure", "under-exposed"),
    "haze": ("haze", "hazy"), "hazy": ("haze", "hazy"), "fog": ("haze", "hazy"), "foggy": ("haze", "hazy"),
    "murky": ("haze", "hazy"),
    "pixelated": ("pixelation", "pixelated"), "pixelation": ("pixelation", "pixelated"),
    "jagged": ("pixelation", "pixelated"),
    "compression": ("compression artifacts", "compressed"), "jpeg": ("compression artifacts", "compressed"),
    "artifacts": ("compression artifacts", "compressed"), "artefacts": ("compression artifacts", "compressed"),
    "blocking": ("compression artifacts", "compressed"), "blocky": ("compression artifacts", "compressed"),
    "banding": ("compression artifacts", "compressed"), "ringing": ("compression artifacts", "compressed"),
    "warped": ("geometric distortion", "warped"), "warping": ("geometric distortion", "warped"),
    "wavy": ("geometric distortion", "warped"), "deformed": ("geometric distortion", "warped"),
    "rippled": ("geometric distortion", "warped"),
    "snow": ("snow", "covered by snow"), "snowflakes": ("snow", "covered by snow"),
    "flakes": ("snow", "covered by snow"), "frost": ("frost", "frosted"), "frosted": ("frost", "frosted"),
    "icy": ("frost", "frosted"),
}
# attribute words that describe a good state; their presence contradicts the distortion family given
POSITIVE = {"sharp": "blur", "crisp": "blur", "clear": "blur", "in focus": "blur", "clean": "noise",
            "vivid": "colour", "vibrant": "colour", "natural": "colour", "well exposed": "exposure",
            "balanced": "exposure", "even": "lighting", "adequate": "lighting"}
FAMILY_OF_NOUN = {"motion blur": "blur", "out-of-focus blur": "blur", "blur": "blur", "noise": "noise",
                  "over-exposure": "exposure", "under-exposure": "exposure", "haze": "contrast",
                  "pixelation": "resolution", "compression artifacts": "compression",
                  "geometric distortion": "geometry", "snow": "occlusion", "frost": "occlusion"}
OBJECT = re.compile(r"\b(?:the|a|an)\s+((?:[a-z-]+\s){0,2}?[a-z-]+?)\s+(?:(?:on|at|in)\s+the\s+"
                    r"(top left|top right|bottom left|bottom right|left|right|top|bottom|centre|center|middle|"
                    r"foreground|background))\b")


@dataclass
class Fact:
    term: str  # the words of the feedback
    attribute: str  # vocabulary attribute (blur, noise, colour, ...)
    noun: str | None  # distortion noun, if a distortion
    adjective: str | None
    present: bool  # False when the sentence states its absence ("no noise", "free of blur")
    strength: int  # 1 slight, 2 moderate, 3 severe; 0 unknown
    target: str | None  # "the duck on the left", when the sentence grounds it
    position: str | None
    sentence: str


@dataclass
class FeedbackFacts:
    text: str
    facts: list[Fact] = field(default_factory=list)
    positives: list[tuple[str, str]] = field(default_factory=list)  # (word, family it contradicts)
    conclusion: str | None = None  # excellent | good | fair | poor | bad
    objects: list[tuple[str, str]] = field(default_factory=list)  # (object phrase, position)

    @property
    def distortions(self) -> list[Fact]:
        return [f for f in self.facts if f.noun and f.present]

    @property
    def absent(self) -> list[Fact]:
        return [f for f in self.facts if f.noun and not f.present]

    def main_distortion(self) -> Fact | None:
        """The strongest stated distortion (first one on ties)."""
        found = self.distortions
        return max(found, key=lambda f: (f.strength, -found.index(f))) if found else None


def _strength(clause: str, start: int) -> int:
    """Intensity words of the clause just before the term ("heavily blurred") or right after ("blur is heavy")."""
    window = clause[max(0, start - 25):start + 30]
    found = [level for word, level in INTENSITY.items() if re.search(rf"\b{re.escape(word)}\b", window)]
    return max(found) if found else 0


def _negated(sentence: str, start: int) -> bool:
    window = sentence[max(0, start - 30):start]
    return any(neg in window for neg in NEGATIONS)


def _preposition(position: str) -> str:
    if position in ("centre", "center", "middle", "foreground", "background"):
        return "in"
    return "on" if position in ("left", "right") else "at"


def conclusion_of(text: str) -> str | None:
    sentences = [s for s in SENTENCE.split(text.strip().lower()) if s]
    for sentence in reversed(sentences[-2:]):
        if "quality" in sentence or "rate" in sentence or "overall" in sentence:
            words = re.findall(r"[a-z]+", sentence)
            found = [w for w in words if w in QUALITY_WORDS]
            if found:
                return QUALITY_NORMAL.get(found[-1], found[-1])
    return None


def extract_facts(text: str) -> FeedbackFacts:
    vocabulary = load_vocabulary()
    result = FeedbackFacts(text=text, conclusion=conclusion_of(text))
    for sentence in SENTENCE.split(text.strip()):
        # clauses keep "the duck on the left is blurred, and the sky is noisy" from mixing targets and strengths
        for clause in CLAUSE.split(sentence.lower()):
            grounded = OBJECT.search(clause)
            target = position = None
            if grounded:
                phrase, position = grounded.group(1), grounded.group(2)
                target = f"the {phrase} {_preposition(position)} the {position}"
                result.objects.append((f"the {phrase}", position))
            for match in vocabulary.pattern.finditer(clause):
                term = match.group(1)
                noun, adjective = DISTORTIONS.get(term, (None, None))
                result.facts.append(Fact(term, vocabulary.term_to_attribute[term], noun, adjective,
                                         not _negated(clause, match.start()), _strength(clause, match.start()),
                                         target, position, sentence))
            for word, family in POSITIVE.items():
                found = re.search(rf"\b{re.escape(word)}\b", clause)
                if found and not _negated(clause, found.start()):
                    result.positives.append((word, family))
    return result
