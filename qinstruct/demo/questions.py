"""Questions about demo images: high-level content conversations (what trains the *baseline*) and the held-out
LLVisionQA-style multiple-choice set (3 types x 4 concerns, as Q-Bench A1)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..data.records import LLVisionQAItem, Turn
from .feedback import QUALITY_LEVELS, object_phrases, preposition
from .scenes import COLOURS, PHOTOS, SHAPES

MCQ_INSTRUCTION = "\nAnswer with the option's letter from the given choices directly.\n"  # Q-Bench A1 (LLaVA)
NUMBERS = {1: "one", 2: "two", 3: "three"}

# what a person calls each corruption, and the families yes/no questions ask about
DISTORTION_NOUNS = {
    "gaussian_noise": "noise", "shot_noise": "noise", "impulse_noise": "noise",
    "defocus_blur": "out-of-focus blur", "glass_blur": "glass blur", "motion_blur": "motion blur",
    "zoom_blur": "zoom blur", "snow": "snow", "frost": "frost", "fog": "fog", "brightness": "over-exposure",
    "contrast": "low contrast", "elastic_transform": "warping", "pixelate": "pixelation",
    "jpeg_compression": "compression artifacts",
}
FAMILIES = {
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "exposure": ("brightness",),
    "contrast": ("contrast", "fog"),
    "blocks": ("pixelate", "jpeg_compression"),
    "occlusion": ("snow", "frost"),
    "warping": ("elastic_transform",),
}
FAMILY_OF = {corruption: family for family, members in FAMILIES.items() for corruption in members}
FAMILY_QUESTIONS = {  # whole image, and grounded to an object ({obj})
    "blur": ("Is this image blurry?", "Is {obj} blurred?"),
    "noise": ("Is there noise in this image?", "Is {obj} noisy?"),
    "exposure": ("Is this image over-exposed?", "Is {obj} over-exposed?"),
    "contrast": ("Is the contrast of this image low?", "Does {obj} have low contrast?"),
    "blocks": ("Are there blocky artifacts in this image?", "Does {obj} show blocky artifacts?"),
    "occlusion": ("Is the view obscured by snow or frost?", "Is {obj} covered by snow or frost?"),
    "warping": ("Are the shapes in this image warped?", "Is {obj} warped?"),
}
STRENGTHS = ("not at all", "slightly", "moderately", "severely")


def strength(severity: int) -> str:
    return STRENGTHS[0] if severity == 0 else STRENGTHS[1 if severity <= 2 else 2 if severity == 3 else 3]


def three_level_quality(mos: float) -> str:
    return "good" if mos >= 60 else "fair" if mos >= 40 else "poor"


def colour_impression(corruption: str | None, severity: int) -> str:
    if corruption == "brightness":
        return "washed out"
    if corruption in ("contrast", "fog", "frost", "snow") and severity >= 2:
        return "dull"
    return "vivid"


# ------------------------------------------------------------------------------------ content (baseline data)


def content_conversation(rng: np.random.Generator, content: dict[str, Any], image_token: str = "<image>") -> list[Turn]:
    """A multi-turn conversation about *what* is in the image, never about its quality."""
    qa: list[tuple[str, str]] = []
    if content["kind"] == "scene":
        objects = content["objects"]
        obj = objects[int(rng.integers(len(objects)))]
        where = preposition(obj["position"])
        qa.append((f"What shape is the {obj['colour']} object {where}?", f"A {obj['shape']}."))
        qa.append((f"What colour is the {obj['shape']} {where}?", f"{obj['colour'].capitalize()}."))
        qa.append(("How many shapes are there in the image?", f"{NUMBERS[len(objects)].capitalize()}."))
        qa.append((f"Where is the {obj['colour']} {obj['shape']}?", f"{where[0].upper()}{where[1:]}."))
        present = {(o["colour"], o["shape"]) for o in objects}
        absent = [(c, s) for c in sorted(COLOURS) for s in SHAPES if (c, s) not in present]
        colour, shape = absent[int(rng.integers(len(absent)))] if rng.random() < 0.5 else (obj["colour"], obj["shape"])
        qa.append((f"Is there a {colour} {shape} in the image?", "Yes." if (colour, shape) in present else "No."))
        options = list(rng.permutation(SHAPES))
        letters = "ABCD"
        question = f"What shape is the {obj['colour']} object {where}?" + MCQ_INSTRUCTION + "".join(
            f"{letters[i]}. {o}\n" for i, o in enumerate(options))
        qa.append((question, f"{letters[options.index(obj['shape'])]}. {obj['shape']}"))
    else:
        subject = content["subject"]
        others = sorted({s for s, _ in PHOTOS.values()} - {subject})
        other = others[int(rng.integers(len(others)))]
        qa.append(("What is shown in the image?", f"{subject[0].upper()}{subject[1:]}."))
        asked = subject if rng.random() < 0.5 else other
        qa.append((f"Is there {asked} in the image?", "Yes." if asked == subject else "No."))
    order = rng.permutation(len(qa))[: int(rng.integers(2, len(qa) + 1))]
    turns: list[Turn] = []
    for n, i in enumerate(order):
        question, answer = qa[int(i)]
        turns.append(Turn("human", f"{image_token}\n{question}" if n == 0 else question))
        turns.append(Turn("gpt", answer))
    return turns


def content_questions(rng: np.random.Generator, content: dict[str, Any], count: int = 2) -> list[LLVisionQAItem]:
    """Held-out multiple-choice questions about *what* a scene holds (shape, colour, how many), in the A1 layout:
    what the strategies must not forget (the paper's replace loses content).  Photographs get none: the held-out
    ones show subjects no training text names, so a question about them would test the vocabulary, not the eyes."""
    if content["kind"] != "scene":
        return []
    objects = content["objects"]
    obj = objects[int(rng.integers(len(objects)))]
    where = preposition(obj["position"])

    def mcq(question: str, correct: str, options: list[str], qtype: int) -> LLVisionQAItem:
        candidates = [str(o) for o in rng.permutation(options)]
        return LLVisionQAItem("", question, candidates, correct, qtype, 1, {"content": True})

    asked = [mcq(f"What shape is the {obj['colour']} object {where}?", obj["shape"], list(SHAPES), 1),
             mcq(f"What colour is the {obj['shape']} {where}?", obj["colour"],
                 [obj["colour"], *[c for c in rng.permutation(sorted(COLOURS)) if c != obj["colour"]][:3]], 1),
             mcq("How many shapes are there in the image?", NUMBERS[len(objects)], list(NUMBERS.values()), 2)]
    return [asked[int(i)] for i in rng.permutation(len(asked))[:count]]


# ------------------------------------------------------------------------------------ LLVisionQA-style MCQs


class _Asker:
    def __init__(self, rng: np.random.Generator, content: dict, corruption: str | None, severity: int, mos: float):
        self.rng, self.content, self.corruption, self.mos = rng, content, corruption, mos
        self.severity = severity if corruption else 0
        self.family = FAMILY_OF.get(corruption) if corruption else None
        self.obj = object_phrases(content)[int(rng.integers(len(object_phrases(content))))]

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def mcq(self, question: str, correct: str, distractors: list[str], qtype: int, concern: int) -> LLVisionQAItem:
        pool = [d for d in dict.fromkeys(distractors) if d != correct]
        chosen = [pool[i] for i in self.rng.permutation(len(pool))[: 3 if qtype else 1]]
        candidates = [str(c) for c in self.rng.permutation([correct, *chosen])]
        return LLVisionQAItem("", question, candidates, correct, qtype, concern)

    def yes_no(self, question: str, yes: bool, concern: int) -> LLVisionQAItem:
        return LLVisionQAItem("", question, ["Yes", "No"] if self.rng.random() < 0.5 else ["No", "Yes"],
                              "Yes" if yes else "No", 0, concern)

    def asked_family(self) -> tuple[str, bool]:
        """Half the time the image's own family (answer yes), else another one (answer no)."""
        if self.family and self.rng.random() < 0.5:
            return self.family, True
        return self.pick(sorted(set(FAMILIES) - {self.family})), False

    # type 0: Yes-or-No
    def yes_no_distortion(self):
        family, yes = self.asked_family()
        return self.yes_no(FAMILY_QUESTIONS[family][0], yes, 0)

    def yes_no_other(self):
        level = three_level_quality(self.mos)
        if level == "fair":
            return None  # no honest yes/no answer
        return self.yes_no("Is the overall quality of this image good?", level == "good", 1)

    def yes_no_context_distortion(self):
        family, yes = self.asked_family()
        return self.yes_no(FAMILY_QUESTIONS[family][1].format(obj=self.obj), yes, 2)

    def yes_no_context_other(self):
        if self.severity == 3:
            return None  # neither clearly visible nor clearly not
        return self.yes_no(f"Is {self.obj} clearly visible?", self.severity <= 2, 3)

    # type 1: What
    def what_distortion(self):
        if not self.corruption:
            return None
        correct = DISTORTION_NOUNS[self.corruption]
        return self.mcq("What kind of distortion is most obvious in this image?", correct,
                        sorted(set(DISTORTION_NOUNS.values())), 1, 0)

    def what_other(self):
        correct = colour_impression(self.corruption, self.severity)
        return self.mcq("What best describes the colours of this image?", correct,
                        ["vivid", "washed out", "dull"], 1, 1)

    def what_context_distortion(self):
        if not self.corruption:
            return None
        return self.mcq(f"What distortion affects {self.obj} most?", DISTORTION_NOUNS[self.corruption],
                        sorted(set(DISTORTION_NOUNS.values())), 1, 2)

    def what_context_other(self):
        if self.content["kind"] == "scene":
            obj = self.content["objects"][int(self.rng.integers(len(self.content["objects"])))]
            return self.mcq(f"What colour does the {obj['shape']} {preposition(obj['position'])} appear to be?",
                            obj["colour"], sorted(COLOURS), 1, 3)
        return self.mcq(f"What best describes the colours of {self.obj}?",
                        colour_impression(self.corruption, self.severity), ["vivid", "washed out", "dull"], 1, 3)

    # type 2: How
    def how_distortion(self):
        family = self.family or self.pick(sorted(FAMILIES))
        noun = DISTORTION_NOUNS[self.corruption] if self.corruption else DISTORTION_NOUNS[FAMILIES[family][0]]
        return self.mcq(f"How severe is the {noun} in this image?", strength(self.severity), list(STRENGTHS), 2, 0)

    def how_other(self):
        return self.mcq("How is the overall quality of this image?", three_level_quality(self.mos),
                        ["good", "fair", "poor"], 2, 1)

    def how_context_distortion(self):
        noun = DISTORTION_NOUNS[self.corruption] if self.corruption else "distortion"
        return self.mcq(f"How strongly is {self.obj} affected by {noun}?", strength(self.severity),
                        list(STRENGTHS), 2, 2)

    def how_context_other(self):
        correct = "clear" if self.severity <= 1 else "somewhat unclear" if self.severity <= 3 else "very unclear"
        return self.mcq(f"How clear is {self.obj}?", correct, ["clear", "somewhat unclear", "very unclear"], 2, 3)


# (type, concern) -> asker method; the eval set cycles through all 12 cells
CELLS: dict[tuple[int, int], Callable[[_Asker], LLVisionQAItem | None]] = {
    (0, 0): _Asker.yes_no_distortion, (0, 1): _Asker.yes_no_other,
    (0, 2): _Asker.yes_no_context_distortion, (0, 3): _Asker.yes_no_context_other,
    (1, 0): _Asker.what_distortion, (1, 1): _Asker.what_other,
    (1, 2): _Asker.what_context_distortion, (1, 3): _Asker.what_context_other,
    (2, 0): _Asker.how_distortion, (2, 1): _Asker.how_other,
    (2, 2): _Asker.how_context_distortion, (2, 3): _Asker.how_context_other,
}


def perception_questions(rng: np.random.Generator, content: dict[str, Any], corruption: str | None, severity: int,
                         mos: float, cells: list[tuple[int, int]]) -> list[LLVisionQAItem]:
    """Questions for the requested (type, concern) cells; a cell with no honest answer for this image is
    replaced by the next cell that has one."""
    asker = _Asker(rng, content, corruption, severity, mos)
    order = list(CELLS)
    out = []
    for cell in cells:
        start = order.index(cell)
        for step in range(len(order)):
            item = CELLS[order[(start + step) % len(order)]](asker)
            if item is not None:
                out.append(item)
                break
    return out


__all__ = ["CELLS", "DISTORTION_NOUNS", "FAMILIES", "MCQ_INSTRUCTION", "QUALITY_LEVELS", "content_conversation",
           "content_questions", "perception_questions"]
