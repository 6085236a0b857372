"""`qinstruct demo world`: the embedded demo world, generated offline and reproducibly from a seed.

Layout of the output folder (paths inside the files are relative to it):

    world.json                   what was built: config, counts, files (no timestamps: same seed, same bytes)
    images/pristine/NNNNNN.png   the pristine training images
    images/train/NNNNNN.png      what was rated: a corrupted copy (paper's random 1-of-15 assignment) or the
                                 pristine image itself (pristine_share of them)
    images/eval/NNNNNN.png       held-out images (other seeds, held-out photographs), same recipe
    pathway.jsonl                Q-Pathway records: image, source, synthetic MOS, >= 3 synthetic feedbacks
    instruct_content.json        high-level (content only) conversations: the baseline's training data
    eval/llvisionqa.json         LLVisionQA-style questions (3 types x 4 concerns) on the held-out images
    eval/mos.json                the held-out images' MOS list, Q-Bench A3 layout
    eval/content.json            content questions (shape, colour, count) on the held-out scenes, A1 layout
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..config import check_config
from ..corrupt import corrupt, list_corruptions
from ..data.records import InstructionItem, PathwayRecord
from ..fileio import write_json, write_jsonl
from ..jobs.spec import JobSpec
from ..runs import Progress, RunBusy, RunFolder
from ..workspace import WORLD_FILE, WORLD_FILES, world_file, world_ready
from .config import SEVERITY_SHAPE, WorldConfig
from .feedback import write_feedbacks
from .questions import CELLS, FAMILY_OF, content_conversation, content_questions, perception_questions
from .scenes import Sample, make_sample

WORLD_VERSION = 3  # 2: eval/content.json; 3: eval/pairs.json
# Pair questions (Q-Bench2 / Co-Instruct style): one held-out image at two severities of one distortion
PAIR_DISTORTIONS = {"defocus_blur": "Which of the two images is more blurry?",
                    "gaussian_noise": "Which of the two images has more noise?"}
PAIR_SEVERITIES = ((1, 4), (2, 5), (1, 5))
PAIR_ANSWERS = ["The first image", "The second image"]

# Synthetic MOS: per-source base quality (mean, std), then a drop for the corruption: how much severity 5 of
# each corruption hurts (fraction of MAX_DROP), shaped by severity.  Values chosen so that the MOS spread
# per source and the skew toward mid-low scores resemble an IQA database before balancing.
SOURCE_BASE = {"scenes": (80.0, 6.0), "photos-natural": (84.0, 5.0), "photos-texture": (76.0, 7.0),
               "photos-microscopy": (72.0, 8.0)}
IMPACT = {"gaussian_noise": 0.9, "shot_noise": 0.85, "impulse_noise": 0.9, "defocus_blur": 1.0, "glass_blur": 0.95,
          "motion_blur": 0.95, "zoom_blur": 1.0, "snow": 0.8, "frost": 0.75, "fog": 0.7, "brightness": 0.5,
          "contrast": 0.8, "elastic_transform": 0.6, "pixelate": 0.85, "jpeg_compression": 0.7}
SEVERITY_CURVE = dict(enumerate(SEVERITY_SHAPE, start=1))
MAX_DROP = 62.0
MOS_NOISE = 5.0


@dataclass
class RatedImage:
    index: int
    sample: Sample
    corruption: str | None
    severity: int
    mos: float
    rng: np.random.Generator


def synthetic_mos(rng: np.random.Generator, source: str, corruption: str | None, severity: int,
                  noise_curve: list[float] | None = None) -> float:
    """A source's base quality minus the corruption's drop; `noise_curve`: the noise family's own severity shape
    (WorldConfig.noise_curve), the others follow SEVERITY_CURVE."""
    mean, std = SOURCE_BASE[source]
    score = rng.normal(mean, std)
    if corruption:
        shape = noise_curve[severity - 1] if noise_curve and FAMILY_OF[corruption] == "noise" \
            else SEVERITY_CURVE[severity]
        score -= IMPACT[corruption] * MAX_DROP * shape
    score += rng.normal(0, MOS_NOISE)
    return round(float(np.clip(score, 1.0, 99.0)), 2)


def rate_image(seed: int, split: int, index: int, config: WorldConfig) -> tuple[RatedImage, np.ndarray]:
    """One image, drawn from its own generator (seed, split, index): independent of generation order."""
    rng = np.random.default_rng([seed, split, index])
    sample = make_sample(rng, config.size, held_out=split == 1, scene_share=config.scene_share,
                         native_share=config.native_share)
    common = list_corruptions("common")
    if rng.random() < config.pristine_share:
        corruption, severity = None, 0
        pixels = np.asarray(sample.image)
    else:
        corruption, severity = common[int(rng.integers(len(common)))], int(rng.integers(1, 6))
        pixels = np.asarray(corrupt(sample.image, corruption, severity, seed=int(rng.integers(2**32))))
    mos = synthetic_mos(rng, sample.source, corruption, severity, config.noise_curve)
    return RatedImage(index, sample, corruption, severity, mos, rng), pixels


def _save_png(pixels: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(pixels).save(path, optimize=False)


def build_world(config: WorldConfig, progress: Progress | None = None) -> dict:
    """Generate the world into config.out (a run folder, held while building); returns world.json's contents."""
    check_config(config)
    run = RunFolder(config.out, WorldConfig.KIND)
    with run.hold(config):
        summary = _build(config, run.tracker(progress))
        run.summary = summary["counts"]
        return summary


def _build(config: WorldConfig, progress: Progress) -> dict:
    out = Path(config.out)
    for sub in ("images/pristine", "images/train", "images/eval", "images/eval-pairs", "eval"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    total = config.images + config.eval_images
    pathway, content_items = [], []
    for index in range(config.images):
        rated, pixels = rate_image(config.seed, 0, index, config)
        name = f"{index:06d}.png"
        _save_png(np.asarray(rated.sample.image), out / "images" / "pristine" / name)
        _save_png(pixels, out / "images" / "train" / name)
        feedbacks = write_feedbacks(rated.rng, rated.sample.content, rated.corruption, rated.severity, rated.mos,
                                    config.feedbacks_per_image)
        pathway.append(PathwayRecord(
            image=f"images/train/{name}", source=rated.sample.source, mos=rated.mos,
            feedbacks=[text for _, text in feedbacks],
            meta={"synthetic": True, "id": f"demo-{index:06d}", "pristine": f"images/pristine/{name}",
                  "corruption": rated.corruption, "severity": rated.severity or None,
                  "styles": [style for style, _ in feedbacks], "content": rated.sample.content}))
        content_items.append(InstructionItem(
            id=f"content-{index:06d}", image=f"images/train/{name}",
            conversations=content_conversation(rated.rng, rated.sample.content),
            meta={"type": "content", "synthetic": True}))
        if index % 50 == 0:
            progress(index, total)

    questions, mos_list, content_eval = [], [], []
    cells = list(CELLS)
    for index in range(config.eval_images):
        rated, pixels = rate_image(config.seed, 1, index, config)
        name = f"{index:06d}.png"
        _save_png(pixels, out / "images" / "eval" / name)
        mos_list.append({"img_path": f"images/eval/{name}", "gt_score": rated.mos})
        wanted = [cells[(index * config.questions_per_eval_image + k) % len(cells)]
                  for k in range(config.questions_per_eval_image)]
        for item in perception_questions(rated.rng, rated.sample.content, rated.corruption, rated.severity,
                                         rated.mos, wanted):
            item.img_path = f"images/eval/{name}"
            item.meta = {"synthetic": True, "corruption": rated.corruption, "severity": rated.severity or None}
            questions.append(item.to_json())
        # their own generator: the files above stay byte for byte what they were before content questions
        for item in content_questions(np.random.default_rng([config.seed, 2, index]), rated.sample.content):
            item.img_path = f"images/eval/{name}"
            content_eval.append(item.to_json())
        if index % 50 == 0:
            progress(config.images + index, total)

    pairs = pair_questions(config, out)
    write_jsonl(world_file(out, "pathway"), [r.to_json() for r in pathway])
    write_json(world_file(out, "content"), [i.to_json() for i in content_items])
    write_json(world_file(out, "llvisionqa"), questions)
    write_json(world_file(out, "mos"), mos_list)
    write_json(world_file(out, "content_questions"), content_eval)
    write_json(world_file(out, "pairs"), pairs)
    summary = {
        "version": WORLD_VERSION,
        "synthetic": True,
        "config": {k: v for k, v in asdict(config).items() if k != "out"},
        "counts": {"images": config.images, "feedbacks": sum(len(r.feedbacks) for r in pathway),
                   "content_items": len(content_items), "eval_images": config.eval_images,
                   "eval_questions": len(questions), "content_questions": len(content_eval),
                   "pair_questions": len(pairs)},
        "files": WORLD_FILES,
    }
    write_json(out / WORLD_FILE, summary)  # written last: its presence means the world is complete
    progress(total, total)
    return summary


def pair_questions(config: WorldConfig, out: Path) -> list[dict]:
    """Held-out pair questions: an unseen image (its own generator) at a mild and a strong severity of blur or
    noise, in random order; "which is more blurry / noisier" (What) and "how is the second compared to the first"
    (How).  Written as LLVisionQA items whose img_path names the two images."""
    questions = []
    distortions = list(PAIR_DISTORTIONS)
    for index in range(config.pair_questions):
        rng = np.random.default_rng([config.seed, 3, index])
        sample = make_sample(rng, config.size, held_out=True, scene_share=config.scene_share,
                             native_share=config.native_share)
        distortion = distortions[index % len(distortions)]
        mild, strong = PAIR_SEVERITIES[int(rng.integers(len(PAIR_SEVERITIES)))]
        strong_first = bool(rng.integers(2))
        order = (strong, mild) if strong_first else (mild, strong)
        paths = []
        for slot, severity in enumerate(order, start=1):
            path = f"images/eval-pairs/{index:06d}-{slot}.png"
            _save_png(np.asarray(corrupt(sample.image, distortion, severity, seed=int(rng.integers(2**32)))),
                      out / path)
            paths.append(path)
        meta = {"synthetic": True, "corruption": distortion, "severities": list(order)}
        if index % 2 == 0:
            question, candidates = PAIR_DISTORTIONS[distortion], list(PAIR_ANSWERS)
            correct, qtype, concern = PAIR_ANSWERS[0 if strong_first else 1], 1, 0
        else:
            question, candidates = "Compared to the first image, how is the quality of the second image?", \
                ["Worse", "Better"]
            correct, qtype, concern = "Better" if strong_first else "Worse", 2, 1
        questions.append({"img_path": paths, "question": question, "candidates": candidates, "correct_ans": correct,
                          "type": qtype, "concern": concern, **meta})
    return questions


def ensure_world(folder: str | Path, config: WorldConfig | None = None, progress: Progress | None = None) -> dict:
    """The world in `folder`, built with `config` (default size) if it is not there yet.  Two processes
    starting at once: the second waits for the first one's lock, then finds the world ready."""
    folder = Path(folder)
    for _ in range(600):
        if world_ready(folder):
            return json.loads((folder / WORLD_FILE).read_text())
        try:
            return build_world(config or WorldConfig(out=str(folder)), progress)
        except RunBusy:
            time.sleep(1.0)
    raise RunBusy(f"{folder}: another process has been building the demo world for 10 minutes")


def world_job(config: WorldConfig) -> int:
    """The demo world's job (`qinstruct demo world`, the Statistics tab's "build the demo world")."""
    from ..runs import progress_bar

    with progress_bar("demo world", "img") as progress:
        summary = build_world(config, progress)
    print(json.dumps(summary["counts"]))
    return 0


WORLD_JOB = JobSpec(WorldConfig.KIND, WorldConfig, world_job, lambda folder: "continues where it stopped")
