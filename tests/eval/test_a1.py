"""A1: the official prompt, strict answer reading, the 3 x 4 table, and the likelihood protocol against a
brute-force loop."""
import json

import numpy as np
import pytest

from qinstruct.cli import main
from qinstruct.data.records import LLVisionQAItem
from qinstruct.eval.a1 import A1Config, letter_prompt, parse_answer, score_answers

OPTIONS = ["A cat", "motion blur", "noise", "fog"]


@pytest.mark.parametrize("answer, chosen", [
    ("B", 1), ("B.", 1), ("(B)", 1), ("B)", 1), ("  c ", None), ("C", 2), ("B. motion blur", 1), ("motion blur", 1),
    ("Motion blur.", 1), ("A cat.", 0), ("A. A cat", 0), ("A cat is sitting", None), ("A", 0), ("E", None),
    ("B. noise", None), ("The answer is B", None), ("", None), ("B and C", None)])
def test_strict_reading(answer, chosen):
    assert parse_answer(answer, OPTIONS) == chosen


def test_a_lone_letter_beyond_the_options_is_unparsed():
    assert parse_answer("C", ["Yes", "No"]) is None and parse_answer("B", ["Yes", "No"]) == 1


def test_prompt_is_the_official_wording():
    item = LLVisionQAItem("x.png", "Is the image blurry?", ["Yes", "No"], "Yes", 0, 0)
    assert letter_prompt(item) == ("Is the image blurry?\nAnswer with the option's letter from the given choices "
                                   "directly.\nA. Yes\nB. No\n")


def questions() -> list[dict]:
    """One question per type x concern cell, the correct option always B."""
    rows = []
    for qtype in range(3):
        for concern in range(4):
            rows.append({"img_path": f"{qtype}{concern}.png", "question": f"q{qtype}{concern}",
                         "candidates": ["wrong", "right", "other"], "correct_ans": "right", "type": qtype,
                         "concern": concern})
    return rows


def test_table_by_type_and_concern(tmp_path, capsys):
    path = tmp_path / "q.json"
    path.write_text(json.dumps(questions()))
    # right on every Yes-or-No question and on What/Distortion, unparsed on How/Other, wrong elsewhere
    answers = {i: "B" for i in range(4)}
    answers[4] = "right"  # What, Distortion, by option text
    answers[9] = "A cat."  # How, Other: not option A, unparsed
    answers.update({i: "A" for i in range(12) if i not in answers})
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"index": i, "answer": a}) + "\n"
                                              for i, a in answers.items()))
    assert main(["eval", "a1", "--questions", str(path), "--answers", str(tmp_path / "a.jsonl"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 12 and result["correct"] == 5 and result["unparsed"] == 1
    assert result["overall"] == pytest.approx(5 / 12)
    assert result["by_type"] == {"Yes-or-No": 1.0, "What": 0.25, "How": 0.0}
    assert result["by_concern"] == {"Distortion": pytest.approx(2 / 3), "Other": pytest.approx(1 / 3),
                                    "In-context Distortion": pytest.approx(1 / 3),
                                    "In-context Other": pytest.approx(1 / 3)}


def test_missing_answers_count_as_unparsed():
    from qinstruct.data.loaders import validate_llvisionqa

    items = [validate_llvisionqa(q) for q in questions()]
    result = score_answers(items, {0: "B"})
    assert result["correct"] == 1 and result["unparsed"] == 11


def test_likelihood_equals_a_brute_force_loop():
    import torch

    from qinstruct.models.chat import prompt_text
    from qinstruct.models.loading import load_model
    from qinstruct.models.types import Turn
    from qinstruct.photos import demo_photo

    model = load_model("tiny:llava")
    image = demo_photo("coffee", 64)
    options = ["yes", "no, the image is sharp", "motion blur"]
    whole, tail = model.option_losses("Is the image blurry?", options, image)
    for k, option in enumerate(options):  # one option at a time, no padding, labels = input ids
        text = f"{prompt_text(model, [Turn('Is the image blurry?')], True)} {option}"
        from qinstruct.models.chat import batch_inputs

        inputs = batch_inputs(model, [text], [image])
        with torch.no_grad():
            loss = model.model(**inputs, labels=inputs["input_ids"]).loss
        assert whole[k] == pytest.approx(float(loss), abs=1e-4)
    assert np.argmin(tail) in range(3) and len(tail) == 3


def a1_run(tmp_path, image_root, protocols) -> A1Config:
    path = tmp_path / "q.json"
    path.write_text(json.dumps(questions()))
    return A1Config(models=["tiny:llava"], questions=str(path), image_root=str(image_root), out=str(tmp_path / "a1"),
                    protocols=protocols)


def test_a_run_where_no_item_could_be_scored_fails_in_one_line(tmp_path, capsys):
    """A wrong image root ended `done` with accuracy 0.000: items that never got an answer are not wrong answers."""
    from qinstruct.errors import UserError
    from qinstruct.eval.protocols import run_protocol
    from qinstruct.runs import read_status

    config = a1_run(tmp_path, tmp_path / "no-such-folder", ["letter"])
    assert main(["eval", "a1", "--model", "tiny:llava", "--questions", config.questions, "--image-root",
                 config.image_root, "--out", config.out, "--protocols", "letter"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: no item could be scored: tiny:llava: 12 of 12 item(s) not scored, e.g. ") and \
        "no-such-folder" in error and "\n" not in error
    status = read_status(tmp_path / "a1")
    assert status.state == "failed" and status.error == error[len("error: "):]
    letter = json.loads((tmp_path / "a1" / "summary.json").read_text())["models"]["tiny:llava"]["letter"]
    assert letter["n"] == 0 and letter["unscored"] == 12 and letter["overall"] is None
    with pytest.raises(UserError, match="no item could be scored"):  # the same again: still nothing to score
        run_protocol(config)


def test_unscored_items_are_counted_apart_and_left_out_of_the_accuracy(tmp_path):
    from qinstruct.eval.protocols import run_protocol
    from qinstruct.fileio import read_jsonl
    from qinstruct.photos import demo_photo
    from qinstruct.runs import read_status

    images = tmp_path / "images"
    images.mkdir()
    for row in questions()[:6]:  # the four Yes-or-No questions and two What ones have their image
        demo_photo("chelsea", 64).save(images / row["img_path"])
    summary = run_protocol(a1_run(tmp_path, images, ["likelihood"]))
    result = summary["models"]["tiny:llava"]["likelihood"]
    correct = sum(r["correct"] for r in read_jsonl(tmp_path / "a1" / "items.jsonl") if "error" not in r)
    assert result["n"] == 6 and result["unscored"] == 6 and result["unparsed"] == 0
    assert result["overall"] == pytest.approx(correct / 6) and result["by_type"]["How"] is None
    assert summary["failed"]["tiny:llava"]["items"] == 6 and read_status(tmp_path / "a1").state == "done"
