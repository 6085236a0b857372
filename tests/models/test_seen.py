"""What a model sees of an image: the processor's pixels back as pictures, for each family and an endpoint."""
import numpy as np
import pytest
from PIL import Image

from qinstruct.models.loading import load_model
from qinstruct.models.seen import seen_by

from ..conftest import ROOT, SHARED_DATA
from ..helpers.openai_server import completion, openai_server

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"reference data not found at {SHARED_DATA}")


def photo() -> Image.Image:
    return Image.open(SHARED_DATA / "images" / "sausage.jpg").convert("RGB")


def test_the_micro_model_sees_native_resolution_tiles_of_a_photograph():
    model = load_model(str(ROOT / "assets" / "models" / "micro-mix"))
    seen = seen_by(model, photo(), "tuned")
    assert [p.size for p in seen.images] == [(64, 64)] * 9
    assert seen.name == "tuned" and seen.caption.startswith("tuned sees 64×64 px tiles of this 1024×768 px image at "
                                                            "its own resolution")
    corner = np.asarray(photo().crop((0, 0, 64, 64)))
    assert np.array_equal(np.asarray(seen.images[0]), corner)  # cut, not resampled
    small = photo().resize((64, 48))  # not larger than a tile: seen whole, as the demo world's images are
    whole = seen_by(model, small, "tuned")
    assert [p.size for p in whole.images] == [(64, 64)] and "padded to a square" in whole.caption


def test_each_family_says_what_it_sees():
    llava, idefics, qwen = (seen_by(load_model(f"tiny:{family}"), photo())
                            for family in ("llava", "idefics3", "qwen2-vl"))
    assert llava.images[0].size[0] == llava.images[0].size[1] and "padded to a square" in llava.caption
    assert len(idefics.images) >= 1 and "of this 1024×768 px image" in idefics.caption
    width, height = qwen.images[0].size
    assert width > height and "sees" in qwen.caption  # the aspect ratio kept, rounded to patches


def test_an_endpoint_says_the_server_decides():
    with openai_server(lambda body: completion("ok")) as (url, _):
        seen = seen_by(load_model(f"openai:m@{url}"), photo(), "A")
    assert seen.images == [] and seen.caption.startswith("A: the image is sent as it is (1024×768 px)")
