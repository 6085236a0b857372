"""The training job: what `qinstruct train` and the Tune tab's Start run (`TRAIN_JOB.run(config)`)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..jobs.spec import JobSpec
from .config import TrainConfig


def _quiet_libraries() -> None:
    """Deprecation notes of the libraries are not the user's to act on; the run's log stays readable."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|accelerate)\.")
    warnings.filterwarnings("ignore", message="Could not find a config file in", module=r"peft\.")


def train(config: TrainConfig) -> int:
    """Train (or continue) the run in config.output_dir: in this process, or through `accelerate launch`."""
    from ..errors import stop_on_terminate
    from ..runs import RunFolder, progress_bar
    from .trainer import HELD_BY_PARENT, refuse_finished, run_training

    stop_on_terminate()
    _quiet_libraries()
    if config.launcher == "accelerate" and not os.environ.get(HELD_BY_PARENT):
        from .launch import launch

        refuse_finished(config)  # before the folder is held: a refused run changes nothing
        run_folder = RunFolder(config.output_dir, TrainConfig.KIND)
        with run_folder.hold(config):
            status = launch(config, str(run_folder.path / "config.yaml"))
            if status != 0:
                raise SystemExit(status)
        return 0
    with progress_bar("train", "step") as progress:
        result = run_training(config, progress)
    if os.environ.get("RANK", "0") != "0":
        return 0  # process 0 reports for all
    print(f"{result.steps} steps in {result.seconds:.0f} s; train loss {result.train_loss:.4f}"
          + (f", eval loss {result.eval_loss:.4f}" if result.eval_loss is not None else "")
          + f"; {result.trainable:,} of {result.total:,} parameters trained; {result.mixture}", file=sys.stderr)
    print(result.model_dir)
    return 0


def training_point(folder: Path) -> str:
    from .trainer import last_checkpoint

    checkpoint = last_checkpoint(folder)
    if checkpoint is None:
        return "starts over from step 1: no checkpoint was saved before it stopped"
    return f"continues from its checkpoint at step {int(Path(checkpoint).name.split('-')[1]):,}"


TRAIN_JOB = JobSpec(TrainConfig.KIND, TrainConfig, train, training_point, folder_field="output_dir")
