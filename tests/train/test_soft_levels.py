"""DeQA-Score's `soft` recipe inside training: an item carrying a soft label (`data levels --soft`) trains its
level word towards it by KL over the vocabulary (its own label masked), the rest of its answer by cross-entropy;
a plain item beside it in the batch is unchanged; a few steps of a tiny model on such items run and log."""
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from qinstruct.data.levels import LevelsConfig, build_levels
from qinstruct.data.records import QUALITY_LEVELS, InstructionItem, Turn
from qinstruct.models.loading import load_model
from qinstruct.photos import demo_photo
from qinstruct.runs import read_log
from qinstruct.train.config import TrainConfig
from qinstruct.train.data import Example
from qinstruct.train.supervision import IGNORE, Collator, Supervisor, level_tokens
from qinstruct.train.trainer import run_training

PROBS = [0.05, 0.6, 0.3, 0.05, 0.0]


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "x.png"
    demo_photo("chelsea", 64).save(path)
    return path


def example(image, answer: str, probs=None) -> Example:
    meta = {"level_probs": probs} if probs is not None else {}
    item = InstructionItem("1", "x.png", [Turn("human", "<image>\nRate the quality of this image."),
                                          Turn("gpt", answer)], meta)
    return Example(item, image, "levels", "rating", "low")


def test_the_level_word_is_found_and_its_label_handed_to_the_kl(image):
    loaded = load_model("tiny:llava")
    tokenizer = loaded.tokenizer
    position, ids = level_tokens(tokenizer, "The quality of the image is good.")
    assert tokenizer.decode([ids[1]]).strip() == "good" and len(set(ids)) == 5  # five distinct first tokens
    assert level_tokens(tokenizer, "Nothing to see here.") is None
    supervisor = Supervisor(loaded, 512, soft_levels=True)
    soft, plain = (supervisor.encode(example(image, "The quality of the image is good.", probs))
                   for probs in (PROBS, None))
    where = int(soft["level_position"][0, 0])
    assert tokenizer.decode([int(soft["input_ids"][where])]).strip() == "good"
    assert int(soft["labels"][where]) == IGNORE and int(plain["labels"][where]) != IGNORE  # only the soft one
    assert int(plain["level_position"][0, 0]) == -1
    assert soft["level_target"][0].tolist() == pytest.approx(PROBS) and soft["level_ids"].tolist() == [ids]


def test_the_loss_is_the_answers_cross_entropy_plus_the_kl_at_the_level_word(image, tmp_path):
    from transformers import TrainingArguments

    from qinstruct.train.mixture_trainer import MixtureTrainer

    torch.manual_seed(0)
    loaded = load_model("tiny:llava")
    supervisor = Supervisor(loaded, 512, soft_levels=True)
    batch = Collator(loaded.tokenizer.pad_token_id)([supervisor.encode(example(image, f"The quality of the image "
                                                                                  f"is {word}.", probs))
                                                     for word, probs in (("good", PROBS), ("fair", None))])
    trainer = MixtureTrainer(model=loaded.model, args=TrainingArguments(output_dir=str(tmp_path), report_to="none",
                                                                         use_cpu=True))
    soft = {key: batch[key].clone() for key in ("level_position", "level_ids", "level_target")}
    loss = trainer.compute_loss(loaded.model, dict(batch))
    with torch.no_grad():
        outputs = loaded.model(**{k: v for k, v in batch.items() if k not in soft})
    logits = outputs.logits
    labels = batch["labels"]
    cross_entropy = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1),
                                    ignore_index=IGNORE)
    where = int(soft["level_position"][0, 0])
    full = torch.zeros(1, logits.shape[-1])
    full[0, soft["level_ids"][0]] = soft["level_target"][0]
    kl = F.kl_div(torch.log_softmax(logits[0:1, where - 1].float(), dim=-1), full, reduction="batchmean")
    assert float(loss) == pytest.approx(float(cross_entropy + kl), rel=1e-4)


def test_a_few_steps_on_soft_labelled_items(shared_data, tmp_path):
    names = sorted(p.name for p in (shared_data / "images").iterdir())[:5]
    mos = tmp_path / "mos.csv"
    mos.write_text("image,mos,std\n" + "".join(f"{name},{score},{std}\n" for name, score, std in
                                               zip(names, (1.4, 2.6, 3.1, 4.0, 4.8), (0.4, 0.6, 0.5, 0.7, 0.3))))
    items = tmp_path / "soft.json"
    build_levels(LevelsConfig(files=[str(mos)], out=str(items), range=[1.0, 5.0], soft="pdf"))
    assert all(len(item["level_probs"]) == len(QUALITY_LEVELS) for item in json.loads(items.read_text()))
    out = tmp_path / "run"
    run_training(TrainConfig(model="tiny:llava", output_dir=str(out), strategy="replace", low_level=[str(items)],
                             image_root=str(shared_data / "images"), max_steps=3, batch_size=2, eval_fraction=0.2,
                             learning_rate=5e-3, lora_r=4, lora_alpha=8, save_steps=3, group_by_length=False,
                             gradient_checkpointing=False))
    logged = [event for event in read_log(out) if "loss" in event]
    assert len(logged) == 3 and all(torch.isfinite(torch.tensor(e["loss"])) for e in logged)
