"""The demo's VQA subset: perception questions about the training images, answered from the world's truth."""
import json

from qinstruct.demo.config import WorldConfig
from qinstruct.demo.lowlevel import build_perception_items
from qinstruct.demo.questions import CELLS
from qinstruct.demo.world import build_world
from qinstruct.eval.a1 import parse_answer


def test_every_training_image_gets_each_cell_a_rating_and_letter_answers_that_parse(tmp_path):
    world = tmp_path / "world"
    build_world(WorldConfig(out=str(world), images=12, eval_images=4, seed=3))
    items = build_perception_items(world, seed=3)
    assert items == build_perception_items(world, seed=3)  # reproducible from the seed
    records = [json.loads(line) for line in (world / "pathway.jsonl").read_text().splitlines()]
    by_image = {}
    for item in items:
        by_image.setdefault(item.image, []).append(item)
    assert sorted(by_image) == sorted(r["image"] for r in records)  # training images only, every one
    for record in records:
        mine = by_image[record["image"]]
        assert sum(i.meta["form"] == "direct" for i in mine) == len(CELLS)
        rating = [i for i in mine if i.meta["form"] == "rating"]
        assert len(rating) == 1 and rating[0].conversations[0].value == "<image>\nRate the quality of the image."
        for item in (i for i in mine if i.meta["form"] == "letter"):
            question, answer = item.conversations[0].value, item.conversations[1].value
            options = [line[3:] for line in question.splitlines() if line[:3] in ("A. ", "B. ", "C. ", "D. ")]
            assert parse_answer(answer, options) == options.index(answer[3:])  # "B. text": the text's letter
    levels = {i.conversations[1].value for i in items if i.meta["form"] == "rating"}
    assert levels <= {f"The quality of the image is {level}." for level in ("excellent", "good", "fair", "poor", "bad")}
    worst = min(records, key=lambda r: r["mos"])  # the world's lowest MOS is "bad" by equal fifths of its range
    assert [i.conversations[1].value for i in by_image[worst["image"]] if i.meta["form"] == "rating"] == [
        "The quality of the image is bad."]
