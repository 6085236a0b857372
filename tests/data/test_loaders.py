"""Loaders on the real reference files, and validators on malformed inputs."""
import json

import pytest

from qinstruct.data.loaders import (
    DataError,
    detect_format,
    load_instructions,
    load_llvisionqa,
    load_mos_list,
    load_pathway,
    load_qbench_outputs,
    stream_items,
)


def test_real_mos_lists(shared_data):
    livec = load_mos_list(shared_data / "qbench/mos/livec.json")
    assert len(livec.items) == 1169 and livec.items[0].img_path == "t1.bmp"
    agi = load_mos_list(shared_data / "qbench/mos/agi.json")  # gt_score is a string there
    assert len(agi.items) == 2982 and agi.items[0].gt_score == pytest.approx(0.965602553)


@pytest.mark.parametrize("name, count", [("livec", 1169), ("agi", 2982), ("cgi", 6000)])
def test_real_qbench_outputs_are_concatenated_objects(shared_data, name, count):
    result = load_qbench_outputs(shared_data / f"qbench/iqa_outputs/llava_v1.5/{name}.json")
    assert len(result.items) == count and result.layout.startswith("concatenated")
    assert set(result.items[0].logits) == {"good", "poor"}
    assert detect_format(shared_data / f"qbench/iqa_outputs/llava_v1.5/{name}.json") == "qbench-outputs"


def test_real_qalign_items(shared_data):
    result = load_instructions(shared_data / "qalign/train_koniq_first300.json")
    assert len(result.items) == 300
    first = result.items[0]
    assert first.image == "koniq/10004473376.jpg" and "<|image|>" in first.conversations[0].value
    assert first.conversations[1].role == "gpt" and first.conversations[1].value.endswith("excellent.")


def test_missing_images_are_counted_not_fatal(shared_data, tmp_path):
    result = load_instructions(shared_data / "qalign/train_koniq_first300.json", image_root=tmp_path)
    assert len(result.items) == 300 and len(result.missing_images) == 300
    assert "300 image file(s) missing, e.g. koniq/10004473376.jpg" in result.summary()
    with pytest.raises(DataError, match="300 image file"):
        load_instructions(shared_data / "qalign/train_koniq_first300.json", image_root=tmp_path, strict=True)


def write(tmp_path, text, name="data.json"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_ITEM = {"id": "a", "image": "x.jpg", "conversations": [{"from": "human", "value": "<image>\nHi"},
                                                            {"from": "gpt", "value": "Fine."}]}
GOOD_QA = {"img_path": "q.jpg", "question": "Is it blurry?", "candidates": ["Yes", "No"], "correct_ans": "No",
           "type": 0, "concern": 0}


@pytest.mark.parametrize("loader, content, message", [
    (load_mos_list, "", "empty file"),
    (load_mos_list, '[{"img_path": "a.jpg", "gt_score": 3.0},', "bad JSON at line 1"),
    (load_mos_list, '{"img_path": "a", "gt_score": 1}{"img_path": "b", "gt_score": 2}',
     r"concatenated JSON objects \(\}\{\) \(that is the Q-Bench output layout\)"),
    (load_mos_list, '[{"img_path": "a.jpg"}]', "item 0: field 'gt_score': missing"),
    (load_mos_list, '[{"img_path": 7, "gt_score": 1}]', "field 'img_path': expected a string"),
    (load_mos_list, '[{"img_path": "a", "gt_score": "high"}]', "field 'gt_score': not a number"),
    (load_mos_list, '[{"img_path": "a", "gt_score": [1]}]', "field 'gt_score': expected a number"),
    (load_mos_list, '[1, 2]', "item 0: expected an object, got int"),
    (load_qbench_outputs, '{"img_path": "a", "gt_score": 1}', "field 'logit_\\*': no logit_ fields"),
    (load_instructions, json.dumps([{**GOOD_ITEM, "conversations": []}]), "field 'conversations'"),
    (load_instructions, json.dumps([{**GOOD_ITEM, "conversations": [{"from": "robot", "value": "x"}]}]),
     r"field 'conversations\[0\].from': expected human or gpt"),
    (load_instructions, json.dumps([{**GOOD_ITEM, "conversations": [{"from": "human", "value": "no token"}]}]),
     "no <image>"),
    (load_instructions, json.dumps([{k: v for k, v in GOOD_ITEM.items() if k != "id"}]), "field 'id': missing"),
    (load_llvisionqa, json.dumps([{**GOOD_QA, "type": 5}]), "field 'type': unknown code 5"),
    (load_llvisionqa, json.dumps([{**GOOD_QA, "concern": "Texture"}]), "field 'concern': unknown code"),
    (load_llvisionqa, json.dumps([{**GOOD_QA, "correct_ans": "Maybe"}]), "not among the candidates"),
    (load_llvisionqa, json.dumps([{**GOOD_QA, "candidates": ["Yes"]}]), "2 to 4 strings"),
    (load_pathway, '{"image": "a", "source": "s", "mos": 150, "feedbacks": []}\n', "outside \\[0, 100\\]"),
    (load_pathway, '{"image": "a", "source": "s", "mos": 50, "feedbacks": "fine"}\n', "list of strings"),
    (load_pathway, '{"image": "a", "source": "s", "feedbacks": []}\n', "field 'mos': missing"),
])
def test_malformed_inputs_name_file_item_and_field(tmp_path, loader, content, message):
    path = write(tmp_path, content)
    with pytest.raises(DataError, match=message) as info:
        loader(path)
    assert str(path) in str(info.value)


def test_jsonl_errors_give_the_line(tmp_path):
    lines = ['{"image": "a", "source": "s", "mos": 50, "feedbacks": ["ok"]}',
             '{"image": "b", "source": "s", "mos": null, "feedbacks": ["ok"]}',
             '{"image": "c", "source": "s", "mos": "x", "feedbacks": []}']
    path = write(tmp_path, "\n".join(lines) + "\n", "p.jsonl")
    with pytest.raises(DataError, match=r"item 2 \(line 3\): field 'mos'"):
        load_pathway(path)
    result = load_pathway(path, skip_invalid=True)
    assert len(result.items) == 2 and result.total == 3 and len(result.errors) == 1
    assert result.items[1].mos is None
    assert "2 of 3 items valid" in result.summary()


def test_non_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes(b'[{"img_path": "\xe9", "gt_score": 1}]')
    with pytest.raises(DataError, match="not UTF-8"):
        load_mos_list(path)
    with pytest.raises(DataError, match="no such file"):
        load_mos_list(tmp_path / "none.json")


def test_llvisionqa_codes_decoded_exactly(tmp_path):
    items = [{**GOOD_QA, "type": t, "concern": c} for t in range(3) for c in range(4)]
    items.append({**GOOD_QA, "type": "How", "concern": "in-context other"})
    result = load_llvisionqa(write(tmp_path, json.dumps(items)))
    names = [(i.type_name, i.concern_name) for i in result.items]
    assert names[1] == ("Yes-or-No", "Other") and names[4] == ("What", "Distortion")
    assert names[8] == ("How", "Distortion") and names[-1] == ("How", "In-context Other")


def test_llvisionqa_hf_rows_variant(tmp_path):
    rows = [{"image": "0.jpg", "question": "How is the clarity?", "option0": "High", "option1": "Medium",
             "option2": "Low", "option3": "N/A", "correct_choice": "C", "question_type": 2,
             "question_concern": 1}]
    (item,) = load_llvisionqa(write(tmp_path, json.dumps(rows))).items
    assert item.candidates == ["High", "Medium", "Low"] and item.correct_ans == "Low"
    assert item.type_name == "How" and item.concern_name == "Other" and item.img_path == "0.jpg"
    rows[0]["correct_choice"] = "D"
    with pytest.raises(DataError, match="points past the 3 options"):
        load_llvisionqa(write(tmp_path, json.dumps(rows), "b.json"))


def test_detect_format(tmp_path):
    assert detect_format(write(tmp_path, json.dumps([GOOD_ITEM]), "i.json")) == "instructions"
    assert detect_format(write(tmp_path, json.dumps([GOOD_QA]), "q.json")) == "llvisionqa"
    assert detect_format(write(tmp_path, '[{"img_path": "a", "gt_score": 1}]', "m.json")) == "mos"
    with pytest.raises(DataError, match="cannot tell the format"):
        detect_format(write(tmp_path, '[{"name": 1}]', "x.json"))
    assert len(list(stream_items(write(tmp_path, json.dumps([GOOD_ITEM]), "i2.json")))) == 1


def test_large_instruction_file_loads(tmp_path):
    """200K items (the size of Q-Instruct) load and validate; speed is measured in scripts/bench_stats.py."""
    items = [{**GOOD_ITEM, "id": str(i), "image": f"img/{i % 997}.jpg", "type": "vqa"} for i in range(200_000)]
    path = write(tmp_path, json.dumps(items), "big.json")
    result = load_instructions(path)
    assert len(result.items) == 200_000 and result.items[-1].meta == {"type": "vqa"}


def test_llvisionqa_pair_questions(tmp_path):
    """Q-Bench2 / Co-Instruct pair questions: img_path as two paths, or image1 + image2; both images checked."""
    (tmp_path / "a.png").write_bytes(b"x")
    items = [{**GOOD_QA, "img_path": ["a.png", "b.png"]},
             {**{k: v for k, v in GOOD_QA.items() if k != "img_path"}, "image1": "a.png", "image2": "c.png"}]
    result = load_llvisionqa(write(tmp_path, json.dumps(items)), image_root=tmp_path)
    assert [item.images for item in result.items] == [["a.png", "b.png"], ["a.png", "c.png"]]
    assert result.missing_images == ["b.png", "c.png"]  # the second images are checked too
    assert result.items[0].to_json()["img_path"] == ["a.png", "b.png"]  # written back as it came
    with pytest.raises(DataError, match="exactly two image paths"):
        load_llvisionqa(write(tmp_path, json.dumps([{**GOOD_QA, "img_path": ["a", "b", "c"]}]), "three.json"))
