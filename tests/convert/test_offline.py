"""The offline converter on hand-written real-style feedbacks (edge cases included) and on the demo's styles."""
import numpy as np
import pytest

from qinstruct.convert.extract import extract_facts
from qinstruct.convert.items import SUBSETS, validate, yes_no_balance
from qinstruct.convert.offline import convert_feedback
from qinstruct.demo.feedback import STYLES, _Writer

# (feedback, main distortion noun or None, conclusion or None, a grounded target or None)
FEEDBACKS = [
    ("The duck on the left is heavily blurred and there is slight noise in the sky. The colours are vivid. "
     "Thus, the quality of the image is poor.", "blur", "poor", "the duck on the left"),
    ("This photo is sharp and well exposed, with natural colours and no visible noise. Overall, the quality of "
     "the image is excellent.", None, "excellent", None),
    ("Strong motion blur smears the whole scene, and the man in the centre is unrecognisable. The quality of the "
     "image is bad.", "motion blur", "bad", None),
    ("The picture is grainy, especially in the dark corners, but the subject remains clear. I would rate the "
     "quality as fair.", "noise", "fair", None),
    ("The sky is over-exposed and washed out; the building on the right keeps its details. Overall quality: poor.",
     "over-exposure", "poor", None),
    ("Heavy JPEG compression artifacts and blocky edges ruin the fine textures. Thus, the quality is poor.",
     "compression artifacts", "poor", None),
    ("The image is hazy, like seen through fog, and the contrast is low.", "haze", None, None),  # no conclusion
    ("The photo is slightly out of focus, but the colours are vibrant. Thus, the quality of the image is good.",
     "out-of-focus blur", "good", None),
    ("Pixelated and jagged: the image was clearly enlarged from a small file. Thus, the quality is bad.",
     "pixelation", "bad", None),
    ("The car at the bottom is sharp, while the tree at the top is blurry. The quality of the image is fair.",
     "blur", "fair", "the tree at the top"),  # contradictory attributes on two objects
    ("The image is under-exposed and too dark to see the faces. The quality is poor.", "under-exposure", "poor",
     None),
    ("There is no blur and no noise; the lighting is even and the colours are natural. Thus, the quality of the "
     "image is good.", None, "good", None),
    ("Snowflakes cover the lens and the house in the background is barely visible. Overall, the quality of the "
     "image is poor.", "snow", "poor", "the house in the background"),
    ("An icy frost pattern overlays everything. Thus, the quality is poor.", "frost", "poor", None),
    ("The lines of the building are warped and wavy. Thus, the quality of the image is fair.",
     "geometric distortion", "fair", None),
    ("Moderate noise, mild blur. Thus, the quality of the image is fair.", "noise", "fair", None),
    ("Great photo!", None, None, None),  # nothing to say about low-level quality
    ("The dog on the right is noisy and the cat on the left is blurred. Thus, the quality of the image is poor.",
     "noise", "poor", "the dog on the right"),  # multiple objects
    ("The image is free of compression artifacts but slightly soft. Overall, the quality of the image is good.",
     "blur", "good", None),
    ("Severely over-exposed highlights, blown out windows, and a hazy background. The quality is bad.",
     "over-exposure", "bad", None),
    ("The colours are muted and faded, the exposure is balanced. Thus, the quality of the image is fair.", None,
     "fair", None),
    ("There is extreme salt-and-pepper noise everywhere. I would rate the quality of this image as bad.", "noise",
     "bad", None),
]


@pytest.mark.parametrize("text, noun, conclusion, target", FEEDBACKS)
def test_facts_and_items(text, noun, conclusion, target):
    facts = extract_facts(text)
    assert facts.conclusion == conclusion
    main = facts.main_distortion()
    assert (main.noun if main else None) == noun
    if target:
        assert target in {f.target for f in facts.facts if f.target}
    items = convert_feedback(text, "fb", SUBSETS)
    assert items[0].subset == "pathway" and items[0].turns[0][1] == text
    for item in items:
        assert validate(item) == [], (item, validate(item))
    yes, no = yes_no_balance([i for i in items if i.subset == "yes-no"])
    assert yes == no or min(yes, no) == 0  # balanced whenever the feedback allows both
    what = [i for i in items if i.subset == "what" and i.form == "mcq"]
    if noun:
        assert what and what[0].answer == noun and len(what[0].options) == 4
        assert "Answer with the option's letter" in what[0].turns[0][0]
        letter = "ABCD"[what[0].options.index(noun)]
        assert what[0].turns[0][1] == f"{letter}. {noun}"
    else:
        assert not what
    if conclusion:
        assert any(i.subset == "how" and i.answer == conclusion for i in items)
    if target:
        assert any(i.subset == "context" and target in i.turns[0][0] for i in items)


def test_no_claims_without_evidence():
    items = convert_feedback("The dog on the right is noisy and the cat on the left is blurred.", "x", SUBSETS)
    questions = {i.turns[0][0]: i.answer for i in items if i.form == "yes-no"}
    assert "Is this image blurry?" not in questions or questions["Is this image blurry?"] == "yes"
    for item in items:
        if item.form == "mcq" and item.subset in ("what", "context"):
            assert "noise" not in item.options or item.answer == "noise"  # a true distortion is never a distractor


def test_absence_gives_no_and_conclusion_balances():
    items = convert_feedback("There is no noise, but the image is heavily blurred. Thus, the quality of the image "
                             "is poor.", "x", ("yes-no",))
    answers = {i.turns[0][0]: i.answer for i in items}
    assert answers.get("Is there noise in this image?") == "no" and answers.get("Is there blur in this image?") == "yes"


def test_deterministic_per_feedback_id():
    text = FEEDBACKS[0][0]
    first = [i.turns for i in convert_feedback(text, "a", SUBSETS)]
    assert first == [i.turns for i in convert_feedback(text, "a", SUBSETS)]
    options = lambda fid: [i.options for i in convert_feedback(text, fid, ("what",)) if i.form == "mcq"]  # noqa
    assert any(options(f"id{k}") != options("a") for k in range(8))  # shuffles differ between feedbacks


@pytest.mark.parametrize("style", STYLES)
def test_demo_world_styles(style):
    rng = np.random.default_rng(0)
    content = {"kind": "scene", "background": "plain",
               "objects": [{"shape": "circle", "colour": "red", "position": "left"}]}
    for corruption, noun in [("motion_blur", "motion blur"), ("gaussian_noise", "noise"), ("fog", "haze"),
                             ("pixelate", "pixelation"), ("brightness", "over-exposure")]:
        text = _Writer(rng, content, corruption, 4, 25.0).write(style)
        facts = extract_facts(text)
        assert facts.conclusion == "poor", text
        assert noun in {f.noun for f in facts.distortions}, (style, text)
        items = convert_feedback(text, f"{style}-{corruption}", SUBSETS)
        assert all(validate(i) == [] for i in items)
        assert {i.subset for i in items} >= {"pathway", "what", "how"}
