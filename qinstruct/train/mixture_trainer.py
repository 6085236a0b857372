"""MixtureTrainer: transformers' Trainer as the paper's tuning needs it -- one seeded order of the items in every
process and after a resume, length grouping without encoding the images, checkpoints that are whole or absent,
full weights restored under their saved names.  A module-level class: subclass it to change a step, as any
Trainer."""
from __future__ import annotations

import shutil
from pathlib import Path

import torch
from transformers import PreTrainedModel, PrinterCallback, Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler

from ..errors import first_line
from ..fileio import WriteError
from .scorer_objectives import soft_kl_loss
from .supervision import SOFT_FIELDS


class MixtureTrainer(Trainer):
    """Trainer with one seeded order of the items, the same in every process and after a resume (so that N
    processes see the global batches one process would), grouped by lengths computed from the items' text
    rather than by encoding every example (which would load every image before the first step)."""

    def __init__(self, *args, lengths: list[int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lengths = lengths
        self.remove_callback(PrinterCallback)  # the run folder's log and our progress bar say it better

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        """The answers' cross-entropy; where an example carries a soft label (DeQA-Score's `soft` recipe), plus
        the KL from it to the model's distribution at the level word (whose own label was masked)."""
        soft = {key: inputs.pop(key) for key in SOFT_FIELDS if key in inputs}
        if not soft or not bool((soft["level_position"] >= 0).any()):
            return super().compute_loss(model, inputs, return_outputs=return_outputs, **kwargs)
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, **kwargs)
        rows = soft["level_position"][:, 0] >= 0
        positions = soft["level_position"][rows, 0]
        logits = outputs.logits[rows.nonzero()[:, 0], positions - 1]  # the step that predicts the level word
        loss = loss + soft_kl_loss(logits, soft["level_ids"][rows], soft["level_target"][rows])
        return (loss, outputs) if return_outputs else loss

    def _save_checkpoint(self, model, trial):
        """A save that fails (a full disk: safetensors, torch and json each fail their own way) leaves no half
        checkpoint behind and stops the run with one line; the previous checkpoint stays whole."""
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        try:
            super()._save_checkpoint(model, trial)
        except Exception as error:  # noqa: BLE001 - re-raised as the one error a user acts on
            shutil.rmtree(folder, ignore_errors=True)
            raise WriteError(f"{folder}: cannot save this checkpoint ({first_line(error)}); the last whole "
                             "checkpoint is kept and the run continues from it when started again") from None

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        model = model if model is not None else self.model
        if self.is_fsdp_enabled or not saved_full_weights(Path(resume_from_checkpoint), model):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        restore_full_weights(model, Path(resume_from_checkpoint))

    def _get_train_sampler(self, train_dataset=None):
        generator = torch.Generator().manual_seed(self.args.seed)
        if self.lengths is None:
            return torch.utils.data.RandomSampler(train_dataset or self.train_dataset, generator=generator)
        return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                    lengths=self.lengths, generator=generator)


def saved_full_weights(folder: Path, model) -> bool:
    """Whether a checkpoint holds a whole model's weights (not an adapter's) for this model."""
    weights = (folder / "model.safetensors").is_file() or (folder / "model.safetensors.index.json").is_file()
    return weights and (folder / "config.json").is_file() and isinstance(model, PreTrainedModel)


def restore_full_weights(model, folder: Path) -> None:
    """A checkpoint's full weights into the model being trained.  transformers saves them in the checkpoint
    format's original key names (`language_model.model.…` for LLaVA) but its Trainer resumes with a plain
    `load_state_dict`, which matches none of them: the run went on from random weights with only a warning (found
    when a killed 600-step run resumed at loss 8.4 instead of 0.59).  `from_pretrained` knows the key layout; a key
    still missing stops the run instead of training on from noise.  Costs one more copy of the weights in memory
    for the moment of the resume."""
    from ..models import micro  # noqa: F401 - the micro tower's classes must be registered before its config loads

    saved, info = type(model).from_pretrained(folder, dtype=model.dtype, output_loading_info=True)
    missing = sorted(set(info["missing_keys"]) | set(model.load_state_dict(saved.state_dict(), strict=False)
                                                       .missing_keys))
    if missing:
        from ..models.types import ModelLoadError

        raise ModelLoadError(f"{folder}: the checkpoint lacks {len(missing)} of the model's weights (first: "
                             f"{missing[0]}); it cannot resume this run")
