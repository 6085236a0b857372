import pytest
from PIL import Image

from qinstruct.photos import demo_photo


@pytest.fixture(scope="session")
def photos() -> list[Image.Image]:
    return [demo_photo(name, 96) for name in ("chelsea", "coffee", "rocket", "astronaut")]
