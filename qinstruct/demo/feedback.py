"""Synthetic pathway feedbacks: written from what we know about an image (its corruption, severity, content and
positions), in five styles, ending with an overall quality conclusion -- the shape of a Q-Pathway feedback.

Every feedback is synthetic and every record that carries one says so ("synthetic": true).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..data.records import QUALITY_LEVELS

STYLES = ("walkthrough", "concise", "content-first", "technical", "hedged")

ADJECTIVES = {1: ("slight", "faint", "mild"), 2: ("mild", "light", "modest"), 3: ("noticeable", "moderate", "clear"),
              4: ("strong", "heavy", "obvious"), 5: ("severe", "extreme", "overwhelming")}
ADVERBS = {1: ("slightly", "faintly"), 2: ("mildly", "somewhat"), 3: ("noticeably", "moderately"),
           4: ("strongly", "heavily"), 5: ("severely", "extremely")}
CLARITY = {0: ("the image is clear and sharp", "the picture is crisp and clean"),
           1: ("the image is mostly clear", "the picture is still fairly sharp"),
           2: ("the image is somewhat clear", "the clarity is a little reduced"),
           3: ("the clarity of the image is reduced", "the image is not very clear"),
           4: ("the image is quite unclear", "much of the detail is lost"),
           5: ("the image is very unclear", "almost all fine detail is gone")}

# corruption -> (descriptions of the distortion, effects on an object); {adj}/{adv} carry the severity
DISTORTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gaussian_noise": (("{adj} noise is scattered over the whole picture",
                        "the image is covered with {adj} grainy noise",
                        "there is {adj} random noise everywhere, like film grain"),
                       ("the fine details of {obj} are masked by grain", "{obj} looks speckled and noisy")),
    "shot_noise": (("{adj} grain appears across the image, strongest in the darker parts",
                    "the picture suffers from {adj} shot noise, giving it a grainy look"),
                   ("the surface of {obj} is grainy", "{obj} is hidden behind a layer of noise")),
    "impulse_noise": (("{adj} salt-and-pepper specks are sprinkled over the image",
                       "the image is peppered with {adj} black and white dots"),
                      ("isolated white and black dots sit on top of {obj}", "{obj} is dotted with noise")),
    "defocus_blur": (("there is {adj} defocus blur over the whole frame",
                      "the picture is {adv} blurred, as if the lens was not focused"),
                     ("the edges of {obj} are soft and smeared", "{obj} has lost its sharp outline")),
    "glass_blur": (("the image looks as if seen through frosted glass, with {adj} jittery blur",
                    "{adj} glass-like blur scrambles the fine details"),
                   ("the outline of {obj} is jagged and blurred", "{obj} looks scattered and blurry")),
    "motion_blur": (("{adj} motion blur streaks the image in one direction",
                     "the camera seems to have moved, leaving {adj} motion blur"),
                    ("{obj} is smeared along the direction of motion", "ghost edges trail behind {obj}")),
    "zoom_blur": (("{adj} zoom blur radiates from the centre of the image",
                   "radial streaks of {adj} blur spread outwards from the middle"),
                  ("{obj} is stretched by radial streaks", "the edges of {obj} are smeared outwards")),
    "snow": (("{adj} snowflakes cover parts of the picture",
              "white flakes and streaks of {adj} snow obscure the scene"),
             ("{obj} is partly hidden behind the flakes", "snow covers part of {obj}")),
    "frost": (("an icy frost pattern overlays the image with {adj} intensity",
               "the picture looks as if taken through a frosted window, with {adj} ice texture"),
              ("{obj} is partly covered by the frost", "the frost obscures {obj}")),
    "fog": (("a {adj} grey haze like fog lowers the contrast", "{adj} fog veils the whole scene"),
            ("{obj} fades into the haze", "{obj} is hard to separate from the foggy background")),
    "brightness": (("the image is {adv} over-exposed, with washed-out highlights",
                    "the picture is {adv} too bright, so bright areas lose detail"),
                   ("{obj} looks pale and washed out", "the brightest parts of {obj} are blown out")),
    "contrast": (("the contrast is {adv} reduced, so the image looks flat and grey",
                  "{adj} loss of contrast makes everything look dull"),
                 ("{obj} barely stands out from the background", "{obj} blends into its surroundings")),
    "elastic_transform": (("{adj} wavy distortions warp the shapes in the image",
                           "the geometry is {adv} warped, as if printed on rippled paper"),
                          ("the outline of {obj} is bent and wavy", "{obj} looks deformed")),
    "pixelate": (("the image is {adv} pixelated, with visible square blocks",
                  "{adj} pixelation turns edges into jagged steps"),
                 ("{obj} is made of coarse blocks", "the edges of {obj} are jagged")),
    "jpeg_compression": (("{adj} JPEG compression artifacts appear as blocks and ringing",
                          "the picture shows {adj} compression artifacts and colour banding"),
                         ("blocky artifacts surround {obj}", "the edges of {obj} show compression ringing")),
}
PRISTINE = (("the image is sharp and free of visible distortions",
             "edges are crisp and there is no noticeable noise or blur"),
            ("{obj} is clearly visible with clean edges", "the outline of {obj} is crisp"))
DULL_COLOURS = {"contrast", "fog", "frost", "snow"}
NOISY = {"gaussian_noise", "shot_noise", "impulse_noise"}
CONCLUSIONS = ("Thus, the quality of the image is {level}.", "Overall, the image quality is {level}.",
               "In conclusion, I would rate the quality of this image as {level}.",
               "Therefore, its overall quality is {level}.", "All things considered, the quality is {level}.")


def quality_level(mos: float) -> str:
    """Q-Align's bands on [0, 100]: [80, 100] excellent, [60, 80) good, [40, 60) fair, [20, 40) poor, else bad."""
    return QUALITY_LEVELS[min(4, max(0, int((100 - mos) // 20)))] if mos < 100 else "excellent"


def preposition(position: str) -> str:
    if position == "centre":
        return "in the centre"
    if position in ("left", "right"):
        return f"on the {position}"
    return f"at the {position}"


def definite(subject: str) -> str:
    """'a cat' -> 'the cat'; 'coins' -> 'the coins'; 'the lunar surface' stays."""
    for article in ("a ", "an "):
        if subject.startswith(article):
            return "the " + subject[len(article):]
    return subject if subject.startswith("the ") else "the " + subject


def object_phrases(content: dict[str, Any]) -> list[str]:
    """Ways to refer to the things in the image, grounded in position for scenes."""
    if content["kind"] == "scene":
        return [f"the {o['colour']} {o['shape']} {preposition(o['position'])}" for o in content["objects"]]
    return [definite(content["subject"])]


BACKGROUND_WORDS = {"plain": "plain", "gradient": "gradient", "clutter": "cluttered"}


def indefinite(noun_phrase: str) -> str:
    return ("an " if noun_phrase[:1] in "aeiou" else "a ") + noun_phrase


def content_summary(content: dict[str, Any]) -> str:
    if content["kind"] == "photo":
        return f"a close-up of {content['subject']}" if content["category"] != "texture" else content["subject"]
    parts = [indefinite(f"{o['colour']} {o['shape']} {preposition(o['position'])}") for o in content["objects"]]
    listing = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{listing} on {indefinite(BACKGROUND_WORDS[content['background']])} background"


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


class _Writer:
    def __init__(self, rng: np.random.Generator, content: dict, corruption: str | None, severity: int, mos: float):
        self.rng, self.content, self.corruption = rng, content, corruption
        self.severity = severity if corruption else 0
        self.level = quality_level(mos)

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def fill(self, template: str, obj: str | None = None) -> str:
        severity = max(self.severity, 1)
        return template.format(adj=self.pick(ADJECTIVES[severity]), adv=self.pick(ADVERBS[severity]),
                               obj=obj or self.pick(object_phrases(self.content)))

    def distortion(self) -> str:
        descriptions, _ = DISTORTIONS[self.corruption] if self.corruption else PRISTINE
        return self.fill(self.pick(descriptions))

    def effect(self) -> str:
        _, effects = DISTORTIONS[self.corruption] if self.corruption else PRISTINE
        return self.fill(self.pick(effects))

    def clarity(self) -> str:
        return self.pick(CLARITY[self.severity])

    def colour(self) -> str:
        if self.corruption == "brightness":
            return "the colours are pale and washed out"
        if self.corruption in DULL_COLOURS and self.severity >= 2:
            return self.pick(("the colours look dull and faded", "the colours are muted"))
        if self.corruption in NOISY and self.severity >= 3:
            return "the colours are still recognisable under the noise"
        if self.content["kind"] == "scene":
            obj = self.content["objects"][0]
            return f"the {obj['colour']} of the {obj['shape']} {self.pick(('remains vivid', 'is easy to make out'))}"
        return self.pick(("the colours look natural", "the colour rendition is faithful"))

    def lighting(self) -> str:
        if self.corruption == "brightness":
            return "the lighting is far too strong"
        if self.corruption in ("contrast", "fog"):
            return "the lighting looks flat"
        return self.pick(("the lighting is even", "the illumination is adequate", "the exposure is balanced"))

    def conclusion(self) -> str:
        return self.pick(CONCLUSIONS).format(level=self.level)

    def write(self, style: str) -> str:
        if style == "walkthrough":
            parts = [f"looking at the image, {self.clarity()}", self.distortion(), self.effect(), self.colour(),
                     self.lighting()]
        elif style == "concise":
            parts = [self.distortion(), self.effect(), self.colour()]
        elif style == "content-first":
            parts = [f"the image shows {content_summary(self.content)}", self.effect(), self.distortion(),
                     self.lighting()]
        elif style == "technical":
            parts = [f"from a technical point of view, {self.distortion()}", self.effect(), self.clarity(),
                     self.colour(), self.lighting()]
        elif style == "hedged":
            positive = self.pick(("the composition is simple", "the subject is well framed", self.lighting()))
            parts = [f"although {positive}, {self.distortion()}", self.effect(), self.clarity(), self.colour()]
        else:
            raise ValueError(f"unknown feedback style {style!r}")
        return " ".join(_capitalise(p) + "." for p in parts) + " " + self.conclusion()


ANNOTATOR_SPREAD = 6.0  # std of one annotator's impression around the MOS, in MOS points


def write_feedbacks(rng: np.random.Generator, content: dict[str, Any], corruption: str | None, severity: int,
                    mos: float, count: int = 3) -> list[tuple[str, str]]:
    """`count` feedbacks in distinct styles: [(style, text), ...].  Each comes from a different (simulated)
    annotator whose impression of quality scatters around the MOS, so conclusions near a band edge differ
    between feedbacks of one image, as human ones do."""
    styles = [STYLES[i] for i in rng.choice(len(STYLES), size=min(count, len(STYLES)), replace=False)]
    out = []
    for style in styles:
        impression = float(np.clip(mos + rng.normal(0, ANNOTATOR_SPREAD), 0, 100))
        out.append((style, _Writer(rng, content, corruption, severity, impression).write(style)))
    return out
