"""The Chat tab's held-out demo images: a held-out photograph and a scene, pristine and at every severity."""
from PIL import Image

from qinstruct.demo.examples import CORRUPTIONS, SEVERITY_STEPS, held_out_examples
from qinstruct.demo.scenes import HELD_OUT_PHOTOS


def test_examples_are_held_out_64px_and_the_same_every_time(tmp_path):
    first = held_out_examples(tmp_path / "a")
    second = held_out_examples(tmp_path / "b")
    assert len(first) == 2 * (1 + len(CORRUPTIONS) * len(SEVERITY_STEPS))
    assert [p.read_bytes() for p, _ in first] == [p.read_bytes() for p, _ in second]
    assert first[0][0].name.split("-")[0] in HELD_OUT_PHOTOS and first[0][1].endswith("pristine")
    assert all(Image.open(p).size == (64, 64) for p, _ in first)
    assert held_out_examples(tmp_path / "a") == first  # written once, listed again
