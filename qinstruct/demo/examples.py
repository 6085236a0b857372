"""Held-out demo images for the Chat tab: what a speaker clicks to show the micro models' difference.

A held-out photograph (never in any training image) and a procedural scene, at the micro models' 64 px, each
pristine and under blur, noise and over-exposure at every severity, corrupted at that size (what the model
sees).  Written once into the workspace; the same seed gives the same bytes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..corrupt import corrupt
from .scenes import photo_crop, procedural_scene

SIZE = 64
CORRUPTIONS = ("defocus_blur", "gaussian_noise", "brightness")
SEVERITY_STEPS = (1, 2, 3, 4, 5)


def held_out_examples(folder: Path, seed: int = 0) -> list[tuple[Path, str]]:
    """(PNG path, caption) of each example, pristine first, written into folder if missing."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 7])
    examples = []
    for sample in (photo_crop(rng, SIZE, held_out=True), procedural_scene(rng, SIZE)):
        name = sample.content.get("photo", "scene")
        subject = sample.content.get("subject") or "coloured shapes"
        variants = [("pristine", sample.image)] + [
            (f"{corruption} s{severity}", corrupt(sample.image, corruption, severity, seed=seed))
            for corruption in CORRUPTIONS for severity in SEVERITY_STEPS]
        for label, image in variants:
            path = folder / f"{name}-{label.replace(' ', '-')}.png"
            if not path.is_file():
                image.save(path)
            examples.append((path, f"{subject} · {label}"))
    return examples
