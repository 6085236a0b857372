"""`qinstruct demo reproduce`: the paper's experiment in miniature, end to end, on the demo world.

world -> offline conversion -> an untrained micro model -> `train` for baseline (high-level data only), mix and
replace, each from the untrained model for the same number of steps, and after (the finished baseline continued
over as many low-level items as mix saw) -> `eval` A1 (letter and likelihood) on the held-out low-level questions,
A1 on held-out content questions, A2 (the offline judge knows each held-out image's distortion) and A3 -> the
paper's tables with +Δ against the baseline (Table 3: A1 by type and concern; Table 6: A3; Table 9: the strategies
side by side), the paper's ordering of the strategies checked, and the radar, written to REPRO/report/.

Every stage is one of the studio's own jobs with its own run folder, so the whole pipeline resumes where it
stopped: a finished stage is skipped, an interrupted training continues from its last checkpoint, an
interrupted evaluation from its last item.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..config import ConfigError, check_config, option
from ..fileio import now, write_json
from ..workspace import WORLD_FILE, world_file, world_ready
from .config import SEVERITY_SHAPE, WorldConfig, check_noise_curve, native_share_option, noise_curve_option

STRATEGIES = ("baseline", "mix", "after", "replace")


@dataclass(frozen=True)
class Plan:
    images: int
    eval_images: int
    micro: str  # the micro model's size (models/micro.py)
    steps: int  # baseline, mix and replace each, from the untrained model; after: see after_steps
    join: int  # exchanges per joined conversation
    batch: int
    a2_images: int  # held-out images described for A2 (generating is the slow part of evaluating)


PLANS = {"small": Plan(images=200, eval_images=40, micro="small", steps=30, join=4, batch=16, a2_images=12),
         "full": Plan(images=2000, eval_images=400, micro="full", steps=800, join=4, batch=32, a2_images=200)}
CONVERTED_SHARE = 0.3  # of the offline conversion's items: its wordings are not the held-out set's (lowlevel.py)


@dataclass(kw_only=True)
class ReproduceConfig:
    COMMAND: ClassVar = ("demo", "reproduce")

    out: str = option("workspace/reproduce", help="the reproduction's folder: world, conversion, models, runs, "
                      "evaluations and report/ (run again to resume)")
    size: str = option("full", help="full: the shipped models' recipe; small: a few CPU minutes (what the tests "
                       "run)", choices=list(PLANS))
    seed: int = option(0, help="seed of the world, the models and the training", min=0, max=2**32 - 1)
    device: str = option("cpu", help="where to train and evaluate", choices=["cpu", "cuda"])
    strategies: list[str] = option(default_factory=lambda: list(STRATEGIES), choices=list(STRATEGIES),
                                   help="strategies to train (after needs baseline)")
    ship: str = option("", help="also copy the trained models (half precision, with manifests) and the report "
                       "here: how assets/models/ is made")
    steps: int = option(0, help="training steps of baseline, mix and replace (0: the size's, full 800, small 30; "
                        "after's follow from them)", min=0, max=1_000_000)
    native_share: float = native_share_option()
    noise_curve: list[float] = noise_curve_option()

    def validate(self) -> None:
        check_noise_curve(self.noise_curve)
        if "after" in self.strategies and "baseline" not in self.strategies:
            raise ConfigError("strategies: after continues from the baseline's model: include baseline")

    @property
    def training_steps(self) -> int:
        return self.steps or PLANS[self.size].steps


def say(step: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {step}", file=sys.stderr, flush=True)


WORLD_KNOBS = {"native_share": 0.0, "noise_curve": list(SEVERITY_SHAPE)}  # what worlds older than them had


def _world(root: Path, config: ReproduceConfig) -> Path:
    """The reproduction's world, built once; a world built with other knobs is refused, not silently reused."""
    from .world import build_world

    plan, world = PLANS[config.size], root / "world"
    wanted = WorldConfig(out=str(world), images=plan.images, eval_images=plan.eval_images, seed=config.seed,
                         native_share=config.native_share, noise_curve=list(config.noise_curve))
    if not world_ready(world):
        say(f"world: {plan.images} training and {plan.eval_images} held-out images")
        build_world(wanted)
        return world
    built = json.loads((world / WORLD_FILE).read_text())["config"]
    for knob in ("images", "eval_images", "seed", *WORLD_KNOBS):
        if built.get(knob, WORLD_KNOBS.get(knob)) != getattr(wanted, knob):
            raise ConfigError(f"{world} was built with {knob} = {built.get(knob, WORLD_KNOBS.get(knob))}, not "
                              f"{getattr(wanted, knob)}: choose another --out for this world")
    return world


def _conversion(root: Path, world: Path) -> Path:
    from ..convert.job import ConvertJobConfig, run_convert_job

    items = root / "convert" / "items.json"
    if not items.is_file():
        say("conversion: the world's feedbacks into instruction items (offline rules)")
        run_convert_job(ConvertJobConfig(input=str(world_file(world, "pathway")), out=str(items.parent)))
    return items


def world_texts(world: Path, item_files: list[Path] = ()) -> list[str]:
    """The world's own sentences (conversations and feedbacks), for the micro model's tokenizer."""
    texts = []
    for path in [world_file(world, "content"), *item_files]:
        for item in json.loads(path.read_text(encoding="utf-8")):
            texts += [turn["value"].replace("<image>", "").strip() for turn in item["conversations"]]
    for line in world_file(world, "pathway").read_text(encoding="utf-8").splitlines():
        texts += json.loads(line)["feedbacks"]
    return texts


def _perception(root: Path, world: Path, seed: int) -> Path:
    from .lowlevel import build_perception_items

    items = root / "vqa" / "items.json"
    if not items.is_file():
        say("perception questions about the training images (the demo's VQA subset, demo/lowlevel.py)")
        write_json(items, [item.to_json() for item in build_perception_items(world, seed)], indent=None)
    return items


def _base(root: Path, world: Path, plan: Plan, seed: int, item_files: list[Path]) -> Path:
    from ..models.micro import build_micro

    base = root / "models" / "micro-untrained"
    if not (base / "qinstruct.json").is_file():
        say(f"micro model ({plan.micro}): untrained, tokenizer from the world's text")
        model, processor = build_micro(world_texts(world, item_files), size=plan.micro, seed=seed)
        model.save_pretrained(base)
        processor.save_pretrained(base)
        write_json(base / "qinstruct.json", {"label": f"micro {plan.micro} (untrained)", "trained": False})
    return base


def train_config(config: ReproduceConfig, strategy: str, root: Path, world: Path, low_level: list[Path],
                 base: Path, steps: int):
    """The recipe measured for micro models (../shared/notes/micro-world-study.md): everything trained from
    scratch at lr 1e-3, the items about one image joined into conversations, long answers thinned."""
    from ..train.config import TrainConfig

    plan = PLANS[config.size]
    start = root / "runs" / "baseline" / "model" if strategy == "after" else base
    return TrainConfig(model=str(start), output_dir=str(root / "runs" / strategy), strategy=strategy,
                       high_level=[str(world_file(world, "content"))],
                       low_level=[f"{low_level[0]}={CONVERTED_SHARE}", *map(str, low_level[1:])],
                       image_root=str(world), kind_ratios=["extended=0.5"],
                       join_per_image=plan.join, eval_fraction=0.005, max_length=512, seed=config.seed,
                       method="full", tune_vision_tower=True, learning_rate=1e-3, warmup_ratio=0.1,
                       weight_decay=0.01, batch_size=plan.batch, max_steps=steps,
                       eval_steps=steps, save_steps=max(10, steps // 4),
                       logging_steps=10, device=config.device,
                       gradient_checkpointing=False, bf16=config.device == "cuda",
                       # random batches: with batches grouped by length the micro models learned to ignore the
                       # image (measured twice, constant answers; the cause, maybe the tower's batch norm over
                       # similar images, is not isolated)
                       group_by_length=False)


def after_steps(config: ReproduceConfig, root: Path, world: Path, low_level: list[Path], base: Path) -> tuple[int, str]:
    """After's steps: as many low-level items as mix saw in its steps.  An example holds several items (joined per
    image), and mix's examples mix content and low-level items, so the count goes through items per example."""
    from ..train.data import build_mixture

    mix = config.training_steps
    per_example = {strategy: build_mixture(train_config(config, strategy, root, world, low_level, base, mix))
                   .low_level_items_per_example() for strategy in ("mix", "after")}
    steps = max(1, round(mix * per_example["mix"] / per_example["after"]))
    return steps, (f"after: {steps} steps on the finished baseline = mix's {mix} steps x "
                   f"{per_example['mix']:.2f} low-level items per example / {per_example['after']:.2f} per example "
                   "of after's data (the same low-level items seen)")


def _train(config: ReproduceConfig, root: Path, world: Path, low_level: list[Path], base: Path
           ) -> tuple[dict[str, Path], str]:
    """Every strategy's model (trained, or found finished) and how after's steps were chosen."""
    from ..train.trainer import run_training

    steps = {strategy: config.training_steps for strategy in STRATEGIES}
    footing = (f"baseline, mix and replace: {steps['mix']} steps each from the same untrained model "
               f"(batch {PLANS[config.size].batch})")
    if "after" in config.strategies:
        steps["after"], why = after_steps(config, root, world, low_level, base)
        footing += f"; {why}"
    models = {}
    for strategy in [s for s in STRATEGIES if s in config.strategies]:  # baseline before after
        model = root / "runs" / strategy / "model"
        if not (model / "qinstruct.json").is_file():
            say(f"train {strategy}: {steps[strategy]} steps")
            run_training(train_config(config, strategy, root, world, low_level, base, steps[strategy]))
        models[strategy] = model
    return models, footing


def _evaluate(config: ReproduceConfig, root: Path, world: Path, models: dict[str, Path]) -> dict[str, Path]:
    """The held-out evaluations, each a run folder: a1 (low-level questions), content (content questions, A1
    layout), a2 (descriptions, offline judge), a3 (scores against MOS); kept apart per set of strategies, so that
    `--strategies mix` run first and all four later each resume their own (an evaluation folder holds one config)."""
    from ..eval.a1 import A1Config
    from ..eval.a2 import A2Config
    from ..eval.a3 import A3Config
    from ..eval.protocols import run_protocol

    specs = [str(path) for path in models.values()]
    common = dict(models=specs, image_root=str(world), device=config.device, batch_size=16)
    runs = {role: root / "evals" / "-".join(models) / role for role in ("a1", "content", "a2", "a3")}
    say(f"evaluate A1 (low-level and content questions), A2 and A3 on the held-out sets: {', '.join(models)}")
    run_protocol(A1Config(**common, questions=str(world_file(world, "llvisionqa")), out=str(runs["a1"])))
    run_protocol(A1Config(**common, questions=str(world_file(world, "content_questions")), protocols=["likelihood"],
                          out=str(runs["content"])))
    run_protocol(A2Config(**common, references=str(world), judge="offline", max_new_tokens=192,
                          limit=PLANS[config.size].a2_images, out=str(runs["a2"])))
    run_protocol(A3Config(**common, mos=[f"{world_file(world, 'mos')}=demo"], out=str(runs["a3"])))
    return runs


INVOCATIONS = "invocations.json"  # each invocation's minutes: a resumed run's report states its whole cost


class Clock:
    """This invocation's minutes, rewritten into REPRO/invocations.json as each stage ends (a killed invocation
    keeps the stages it finished), so that the report of a run resumed five times states the time all of them
    took, not the last one's 0.2 min."""

    def __init__(self, root: Path):
        self.path, self.started, self.key = root / INVOCATIONS, time.perf_counter(), f"{now()} pid {os.getpid()}"

    def tick(self) -> tuple[float, float, int]:
        """(this invocation's minutes, every invocation's, how many invocations)."""
        try:
            earlier = [e for e in json.loads(self.path.read_text(encoding="utf-8")) if e.get("started") != self.key]
        except (OSError, ValueError, AttributeError):  # the first invocation (or a damaged file: counted anew)
            earlier = []
        minutes = (time.perf_counter() - self.started) / 60
        write_json(self.path, [*earlier, {"started": self.key, "minutes": round(minutes, 2)}])
        return minutes, minutes + sum(float(e.get("minutes") or 0) for e in earlier), len(earlier) + 1

    def line(self) -> str:
        mine, total, count = self.tick()
        if count == 1:
            return f"time: {total:.1f} min"
        return f"time: {total:.1f} min in all, over {count} invocations (this one: {mine:.1f} min)"


def reproduce(config: ReproduceConfig) -> Path:
    """Run (or resume) every stage; returns report/report.md."""
    from ..config.render import shell_line
    from ..eval.report import ReportConfig, write_report
    from ..fileio import write_text
    from .strategies import figures_of, ordering, strategies_table, targets

    check_config(config)
    root, plan = Path(config.out), PLANS[config.size]
    root.mkdir(parents=True, exist_ok=True)
    clock = Clock(root)
    world = _world(root, config)
    clock.tick()
    low_level = [_conversion(root, world), _perception(root, world, config.seed)]
    base = _base(root, world, plan, config.seed, low_level)
    clock.tick()
    models, footing = _train(config, root, world, low_level, base)
    clock.tick()
    runs = _evaluate(config, root, world, models)
    figures = figures_of(runs, models)
    baseline = str(models["baseline"]) if "baseline" in models else ""
    preamble = (f"# The demo's reproduction ({config.size}, seed {config.seed}, {config.device})\n\n"
                f"`{shell_line(dataclasses.replace(config, ship=''))}`; {clock.line()}.\n\n"
                f"Training: {footing}.\n\n{strategies_table(figures).markdown('baseline' if baseline else None)}\n"
                f"{ordering(figures)}\n\n{targets(figures)}\n")
    # the content questions share A1's layout: kept out of the report's A1 tables and radar, shown above
    report = write_report(ReportConfig(runs=[str(runs[role]) for role in ("a1", "a2", "a3")],
                                       out=str(root / "report"), baseline=baseline), preamble)
    write_text(root / "report" / "strategies.json", json.dumps(figures, indent=1))
    if config.ship:
        from .shipped import SHIPPED_OUT, ship

        shown = dataclasses.replace(config, out=SHIPPED_OUT)  # where a reader would run it, not the trainer's folder
        lines = {shell_line(dataclasses.replace(config, ship="")): shell_line(dataclasses.replace(shown, ship=""))}
        for folder in ship(root, models, Path(config.ship), shell_line(shown), config.seed, config.size, lines):
            say(f"shipped {folder}")
    return report
