"""The offline converter: deterministic, rule-based, no key.  Every item it writes follows from a fact read in
the feedback (extract.py): a stated distortion gives "yes", a stated absence or a contradicting good attribute
gives "no", the conclusion gives the overall-quality questions, a grounded sentence gives context questions.
It powers the embedded demo world and previews the item types the GPT backend produces.
"""
from __future__ import annotations

from ..data.records import QUALITY_LEVELS
from .extract import DISTORTIONS, FAMILY_OF_NOUN, STRENGTH_WORDS, Fact, FeedbackFacts, extract_facts
from .items import Item, direct, mcq, stable_rng, yes_no

PROMPT_VERSION = "offline-1"
PATHWAY_PROMPTS = (
    "Describe and evaluate the quality of the image.",
    "How would you assess the quality of this picture? Describe what you see.",
    "Evaluate the low-level quality of the image in detail, then give an overall rating.",
    "Please describe the image's clarity, noise, exposure and colours, and conclude on its quality.",
)
NOUNS = sorted({noun for noun, _ in DISTORTIONS.values()})
NOUN_QUESTION = {"snow": "snow", "frost": "frost", "haze": "haze"}
REASONS = {
    "motion blur": "the camera or the subject moved while the shutter was open, so edges were smeared along the motion",
    "out-of-focus blur": "the lens focused at another distance than the subject, so no part of it is sharp",
    "blur": "the camera shook, the focus missed, or the picture was enlarged from a small original",
    "noise": "the sensor worked at a high ISO in weak light, so random grain covers the signal",
    "over-exposure": "too much light reached the sensor, so the bright parts lost their detail",
    "under-exposure": "too little light reached the sensor, so the dark parts lost their detail",
    "haze": "fog, haze or a dirty lens scattered light across the scene, lowering contrast",
    "pixelation": "the image was stored at a low resolution and enlarged afterwards",
    "compression artifacts": "the file was saved with strong JPEG compression, which discards fine detail in blocks",
    "geometric distortion": "the picture was warped by the lens or by processing, bending straight lines",
    "snow": "snow was falling between the camera and the scene",
    "frost": "the picture was taken through an icy or frosted window",
}
FIXES = {
    "motion blur": ("use a faster shutter speed, a tripod or image stabilisation",
                    "deblurring software such as a motion deconvolution filter"),
    "out-of-focus blur": ("focus on the subject before shooting, or close the aperture for more depth of field",
                          "sharpening or deconvolution tools, which help only a little"),
    "blur": ("hold the camera steady and check the focus", "sharpening and deblurring filters"),
    "noise": ("add light or lower the ISO setting", "a denoising filter or AI denoiser"),
    "over-exposure": ("reduce the exposure or shoot in softer light", "highlight recovery in a RAW editor"),
    "under-exposure": ("increase the exposure or add light", "exposure and shadow adjustments in an editor"),
    "haze": ("clean the lens and shoot in clearer air, with a lens hood", "a dehaze or contrast tool"),
    "pixelation": ("shoot or export at a higher resolution", "an AI upscaler"),
    "compression artifacts": ("save at a higher JPEG quality or in a lossless format", "a JPEG artifact removal tool"),
    "geometric distortion": ("use a lens with less distortion", "lens-correction tools"),
    "snow": ("shelter the lens or wait for the snowfall to stop", "retouching and inpainting tools"),
    "frost": ("clean or warm the window, or shoot outside it", "retouching and dehaze tools"),
}


def _grounded(fact: Fact) -> bool:
    return fact.target is not None


def _distractors(facts: FeedbackFacts, correct: str) -> list[str]:
    """Wrong options must be wrong: not the correct family, and nothing the feedback says is present."""
    present = {FAMILY_OF_NOUN[f.noun] for f in facts.distortions}
    family = FAMILY_OF_NOUN[correct]
    return [n for n in NOUNS if FAMILY_OF_NOUN[n] != family and FAMILY_OF_NOUN[n] not in present]


def _yes_no_items(facts: FeedbackFacts) -> list[Item]:
    yes, no = [], []
    seen: set[tuple[str, bool]] = set()
    for fact in facts.facts:
        if not fact.noun or (fact.noun, fact.present) in seen:
            continue
        seen.add((fact.noun, fact.present))
        if fact.noun.endswith("artifacts"):
            question = f"Are there {fact.noun} in this image?"
        elif fact.noun in NOUN_QUESTION or fact.noun.endswith(("noise", "blur")):
            question = f"Is there {fact.noun} in this image?"
        else:
            question = f"Is this image {fact.adjective}?"
        (yes if fact.present else no).append(yes_no("yes-no", question, fact.present))
    present_families = {FAMILY_OF_NOUN[f.noun] for f in facts.distortions}
    contradicted = {family for _, family in facts.positives if family not in present_families}
    if "blur" in contradicted:
        no.append(yes_no("yes-no", "Is this image blurry?", False))
    if "noise" in contradicted:
        no.append(yes_no("yes-no", "Is there noise in this image?", False))
    positives = {word for word, _ in facts.positives}
    dull = any(f.term in ("muted", "faded", "desaturated", "washed out") and f.present for f in facts.facts)
    if positives & {"vivid", "vibrant", "natural"} and not dull:
        no.append(yes_no("yes-no", "Are the colours of this image dull?", False))
    elif dull:
        yes.append(yes_no("yes-no", "Are the colours of this image dull?", True))
    if positives & {"even", "adequate"}:
        no.append(yes_no("yes-no", "Is the lighting of this image poor?", False))
    if facts.conclusion in ("excellent", "good"):
        yes.append(yes_no("yes-no", "Is the overall quality of this image good?", True))
        no.append(yes_no("yes-no", "Is the overall quality of this image poor?", False))
    elif facts.conclusion in ("poor", "bad"):
        yes.append(yes_no("yes-no", "Is the overall quality of this image poor?", True))
        no.append(yes_no("yes-no", "Is the overall quality of this image good?", False))
    elif facts.conclusion == "fair":
        no.append(yes_no("yes-no", "Is the overall quality of this image excellent?", False))
    keep = min(len(yes), len(no)) if yes and no else max(len(yes), len(no))
    return yes[:keep] + no[:keep]  # balanced: as many yes as no whenever the feedback allows both


def _what_items(facts: FeedbackFacts, rng) -> list[Item]:
    main = facts.main_distortion()
    if main is None:
        return []
    question = "What is the most noticeable distortion in this image?"
    distractors = _distractors(facts, main.noun)
    return [mcq("what", question, main.noun, distractors, rng), direct("what", question, main.noun)]


def _how_items(facts: FeedbackFacts, rng) -> list[Item]:
    items = []
    if facts.conclusion:
        question = "How is the overall quality of this image?"
        items += [mcq("how", question, facts.conclusion, list(QUALITY_LEVELS), rng),
                  direct("how", question, f"the quality of the image is {facts.conclusion}")]
    main = facts.main_distortion()
    if main is not None and main.strength:
        question = f"How strong is the {main.noun} in this image?"
        items += [mcq("how", question, STRENGTH_WORDS[main.strength], ["slight", "moderate", "severe", "none"], rng),
                  direct("how", question, f"it is {STRENGTH_WORDS[main.strength]}")]
    return items


def _context_items(facts: FeedbackFacts, rng) -> list[Item]:
    items: list[Item] = []
    used: set[str] = set()
    for fact in filter(_grounded, facts.facts):
        if fact.attribute == "clarity" and fact.target not in used and fact.term in ("visible", "clear", "sharp"):
            used.add(fact.target)  # "the house in the background is barely visible"
            items.append(yes_no("context", f"Is {fact.target} clearly visible?", fact.present))
            continue
        if not fact.noun or fact.target in used:
            continue
        used.add(fact.target)
        items.append(yes_no("context", f"Is {fact.target} {fact.adjective}?", fact.present))
        if fact.present:
            question = f"What distortion affects {fact.target}?"
            items.append(mcq("context", question, fact.noun, _distractors(facts, fact.noun), rng))
            items.append(direct("context", question, fact.noun))
    return items


def _extended_items(facts: FeedbackFacts) -> list[Item]:
    main = facts.main_distortion()
    if main is None:
        if facts.conclusion not in ("excellent", "good"):
            return []
        turns = [("What makes the quality of this image good?",
                  "It is sharp, free of visible noise or compression artifacts, and well exposed, so fine detail "
                  "and colours come through clearly."),
                 ("Who would this image be suitable for?",
                  "It is good enough to print, to publish or to use as a reference for quality comparisons.")]
        return [Item("extended", turns, "conversation")]
    prevent, repair = FIXES[main.noun]
    audience = ("It is fine for sharing or as a casual memory, though not for printing large."
                if facts.conclusion in ("excellent", "good", "fair") else
                "It serves only as a record of the scene; it is not suitable for publication or printing.")
    turns = [(f"Why is this image {main.adjective}?", f"Most likely {REASONS[main.noun]}."),
             ("How could the photographer have avoided this?", f"They could {prevent}."),
             ("Which tools could improve the picture afterwards?", f"Try {repair}; results depend on how strong the "
              f"{main.noun} is."),
             ("Who would you recommend this image to?", audience)]
    return [Item("extended", turns, "conversation")]


def convert_feedback(text: str, feedback_id: str, subsets: tuple[str, ...]) -> list[Item]:
    """All items of the chosen subsets for one feedback (deterministic for a feedback id)."""
    facts = extract_facts(text)
    rng = stable_rng(feedback_id, text)
    items: list[Item] = []
    if "pathway" in subsets:
        prompt = PATHWAY_PROMPTS[int(rng.integers(len(PATHWAY_PROMPTS)))]
        items.append(Item("pathway", [(prompt, text.strip())], "pathway"))
    if "yes-no" in subsets:
        items += _yes_no_items(facts)
    if "what" in subsets:
        items += _what_items(facts, rng)
    if "how" in subsets:
        items += _how_items(facts, rng)
    if "context" in subsets:
        items += _context_items(facts, rng)
    if "extended" in subsets:
        items += _extended_items(facts)
    return items
