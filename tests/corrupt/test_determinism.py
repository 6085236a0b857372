"""Seeds fully determine outputs; no global random state is read or written; threads do not interfere."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import skimage.data
from PIL import Image

from qinstruct.corrupt import SEVERITIES, corrupt, corrupt_rgb8, list_corruptions

IMAGE = np.asarray(Image.fromarray(skimage.data.chelsea()).resize((96, 64)))
RANDOM = {"gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur", "motion_blur",
          "snow", "frost", "fog", "spatter", "elastic_transform"}


@pytest.mark.parametrize("name", list_corruptions())
def test_same_seed_same_pixels_every_severity(name):
    for severity in SEVERITIES:
        first = corrupt_rgb8(IMAGE, name, severity, seed=11)
        np.random.seed(999)  # disturbing the global generator must change nothing
        second = corrupt_rgb8(IMAGE, name, severity, seed=11)
        assert first.dtype == np.uint8 and first.shape == IMAGE.shape
        assert np.array_equal(first, second)
        assert not np.array_equal(first, IMAGE), "a corruption must change the image"


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_different_seeds_differ(name):
    outputs = {corrupt_rgb8(IMAGE, name, 5, seed=s).tobytes() for s in range(6)}
    assert len(outputs) > 1


def test_global_state_untouched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    for name in list_corruptions():
        corrupt_rgb8(IMAGE, name, 3, seed=5)
    assert np.array_equal(np.random.get_state()[1], before)


def test_threads_do_not_change_each_others_results():
    jobs = [(name, severity, seed) for name in sorted(RANDOM) for severity in (1, 5) for seed in (1, 2)]
    serial = {job: corrupt_rgb8(IMAGE, *job) for job in jobs}
    stop = threading.Event()

    def reseed_global():  # what a careless library beside us might do
        while not stop.is_set():
            np.random.seed(0)
            np.random.random(1000)

    meddler = threading.Thread(target=reseed_global)
    meddler.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            parallel = dict(zip(jobs, pool.map(lambda job: corrupt_rgb8(IMAGE, *job), jobs * 1)))
    finally:
        stop.set()
        meddler.join()
    for job in jobs:
        assert np.array_equal(serial[job], parallel[job]), job


def test_pil_and_array_inputs_agree():
    from_array = corrupt(IMAGE, "snow", 2, seed=3)
    from_pil = corrupt(Image.fromarray(IMAGE), "snow", 2, seed=3)
    assert isinstance(from_pil, Image.Image)
    assert np.array_equal(np.asarray(from_pil), from_array)


@pytest.mark.parametrize("bad", [0, 6, 2.5, True, "3"])
def test_bad_severity_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="severity must be an integer in 1..5"):
        corrupt(IMAGE, "fog", bad)


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5])
def test_bad_seed_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="seed must be an integer"):
        corrupt(IMAGE, "fog", 1, seed=bad)


def test_unknown_name_lists_known_ones():
    with pytest.raises(KeyError, match="unknown corruption 'blurry'.*gaussian_noise"):
        corrupt(IMAGE, "blurry", 1)
