"""Training on tiny models on the CPU: every strategy runs, only the trainable parts change, a killed run resumes
on the same loss curve, two gloo processes match one, and the result loads where models are used."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from qinstruct.config import config_to_yaml
from qinstruct.convert.job import ConvertJobConfig, run_convert_job
from qinstruct.demo.config import WorldConfig
from qinstruct.demo.world import build_world
from qinstruct.models.families import part_of, tiny_model
from qinstruct.models.loading import load_model
from qinstruct.models.pool import list_model_specs
from qinstruct.runs import read_log, read_status
from qinstruct.train.config import TrainConfig
from qinstruct.train.launch import accelerate_command, per_machine_commands
from qinstruct.train.trainer import run_training

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("train-data")
    build_world(WorldConfig(out=str(folder / "world"), images=24, eval_images=4, seed=3))
    run_convert_job(ConvertJobConfig(input=str(folder / "world" / "pathway.jsonl"), out=str(folder / "conv")))
    return {"high": str(folder / "world" / "instruct_content.json"), "low": str(folder / "conv" / "items.json"),
            "root": str(folder / "world")}


def config(data, out: Path, **changes) -> TrainConfig:
    values = dict(model="tiny:llava", output_dir=str(out), strategy="mix", high_level=[data["high"]],
                  low_level=[f"{data['low']}@48"], image_root=data["root"], max_steps=8, batch_size=4,
                  learning_rate=5e-3, lora_r=8, lora_alpha=16, lora_dropout=0.0, eval_fraction=0.1, save_steps=4,
                  group_by_length=False, gradient_checkpointing=False, warmup_ratio=0.0)
    return TrainConfig(**{**values, **changes})


def losses(folder: Path) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in read_log(folder) if "loss" in e}


@pytest.mark.parametrize("strategy", ["mix", "after", "replace", "baseline"])
def test_each_strategy_trains_lora_and_the_result_loads(data, tmp_path, strategy):
    result = run_training(config(data, tmp_path / "runs" / strategy, strategy=strategy, max_steps=12))
    curve = list(losses(tmp_path / "runs" / strategy).values())
    assert len(curve) == 12 and sum(curve[-3:]) / 3 < sum(curve[:3]) / 3  # the loss falls
    assert read_status(tmp_path / "runs" / strategy).state == "done"
    adapter = load_file(Path(result.model_dir) / "adapter_model.safetensors")
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in adapter.items())  # adapters trained
    assert {part_of(k) for k in adapter if "lora_" not in k} == {"projector"}  # and the projector, nothing else
    marker = json.loads((Path(result.model_dir) / "qinstruct.json").read_text())
    assert marker["strategy"] == strategy and marker["trained"] and marker["metrics"]["steps"] == 12
    model = load_model(result.model_dir)  # the model layer loads it on its base, as the Chat tab will
    assert model.label.endswith("trained)") and model.rate(
        [__import__("qinstruct.photos", fromlist=["x"]).demo_photo("chelsea", 64)])[0].p_good >= 0
    assert f"runs/{strategy}/model" in list_model_specs(tmp_path, tmp_path / "runs")


def test_full_fine_tuning_changes_only_the_chosen_parts(data, tmp_path):
    result = run_training(config(data, tmp_path / "full", method="full", tune_vision_tower=False, max_steps=4))
    trained = load_model(result.model_dir)  # weights and processor saved, loaded as any checkpoint
    fresh = dict(tiny_model("llava", 0)[0].state_dict())
    after = trained.model.state_dict()
    assert set(after) == set(fresh)
    changed = {part_of(k) for k, v in after.items() if not torch.equal(v, fresh[k])}
    assert changed == {"projector", "llm"}  # the vision tower stayed frozen


def test_killed_run_resumes_on_the_same_loss_curve(data, tmp_path):
    whole = config(data, tmp_path / "whole", max_steps=8, save_steps=2)
    run_training(whole)
    killed = config(data, tmp_path / "killed", max_steps=8, save_steps=2)
    (tmp_path / "killed.yaml").write_text(config_to_yaml(killed))
    command = [sys.executable, "-m", "qinstruct", "train", "--config", str(tmp_path / "killed.yaml")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not (tmp_path / "killed" / "checkpoints" / "checkpoint-4" / "trainer_state.json"
                                          ).exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert read_status(tmp_path / "killed").state == "interrupted"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed, reference = losses(tmp_path / "killed"), losses(tmp_path / "whole")
    assert max(resumed) == 8 and min(s for s in resumed if s > 4) == 5  # continued after checkpoint 4, not anew
    for step in range(5, 9):
        assert resumed[step] == pytest.approx(reference[step], abs=1e-4), step


def test_two_gloo_processes_match_one(data, tmp_path):
    single = config(data, tmp_path / "one", batch_size=4, max_steps=4, eval_fraction=0.0, save_steps=10)
    run_training(single)
    double = config(data, tmp_path / "two", batch_size=2, max_steps=4, eval_fraction=0.0, save_steps=10,
                    launcher="accelerate", num_processes=2, main_process_port=29517)
    (tmp_path / "two.yaml").write_text(config_to_yaml(double))
    done = subprocess.run([sys.executable, "-m", "qinstruct", "train", "--config", str(tmp_path / "two.yaml")],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert sorted(two) == [1, 2, 3, 4]
    for step in one:  # the same global batches, gradients averaged over the two processes (summed in another order)
        assert two[step] == pytest.approx(one[step], rel=1e-4)
    assert read_status(tmp_path / "two").state == "done"


def test_accelerate_commands():
    base = dict(model="m", output_dir="o", strategy="after", low_level=["d.json"], launcher="accelerate")
    one = accelerate_command(TrainConfig(**base), "o/config.yaml")
    assert one[:3] == [sys.executable, "-m", "accelerate.commands.launch"] and "--multi_gpu" not in one
    assert one[-7:] == ["-m", "qinstruct", "train", "--config", "o/config.yaml", "--launcher", "none"]
    four = accelerate_command(TrainConfig(**base, num_processes=4), "c.yaml")
    assert "--multi_gpu" in four and four[four.index("--num_processes") + 1] == "4"
    zero = accelerate_command(TrainConfig(**base, num_processes=8, deepspeed="zero3"), "c.yaml")
    assert "--use_deepspeed" in zero and Path(zero[zero.index("--deepspeed_config_file") + 1]).is_file()
    nodes = per_machine_commands(TrainConfig(**base, num_processes=8, num_machines=2, main_process_ip="10.0.0.1",
                                             deepspeed="zero3"), "c.yaml")
    assert len(nodes) == 2 and "--num_processes 16" in nodes[0] and "--machine_rank 1" in nodes[1]
    assert all("--main_process_ip 10.0.0.1" in line for line in nodes)


def test_a_full_disk_during_a_checkpoint_leaves_no_half_checkpoint(data, tiny_disk):
    from qinstruct.fileio import WriteError

    out = tiny_disk / "run"
    with pytest.raises(WriteError, match=r"checkpoint-2: cannot save this checkpoint \(.*\); the last whole"):
        run_training(config(data, out, max_steps=4, save_steps=2))
    assert not (out / "checkpoints" / "checkpoint-2").exists()  # nothing half-written under the real name
    status = read_status(out)
    assert status.state == "failed" and "cannot save this checkpoint" in status.error


def test_a_damaged_checkpoint_is_set_aside_and_the_run_continues_from_the_last_whole_one(data, tmp_path):
    out = tmp_path / "damaged"
    run_training(config(data, out, max_steps=6, save_steps=2, save_total_limit=3))
    shutil.rmtree(out / "model")
    shutil.rmtree(out / "checkpoints" / "checkpoint-6")
    optimizer = out / "checkpoints" / "checkpoint-4" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:100])  # a truncated file in the newest checkpoint
    result = run_training(config(data, out, max_steps=6, save_steps=2, save_total_limit=3))
    assert result.steps == 6 and (out / "checkpoints" / "damaged-checkpoint-4").is_dir()
    notes = [e for e in read_log(out) if e.get("event") == "checkpoint set aside"]
    assert len(notes) == 1 and "optimizer.pt is damaged" in notes[0]["note"]
    resumed = [e["step"] for e in read_log(out) if "loss" in e and e.get("attempt") == 2]
    assert resumed[0] == 3  # from checkpoint-2, the last whole one


def test_a_full_fine_tuning_run_resumes_from_its_weights_not_from_noise(data, tmp_path):
    """transformers saves full weights under the checkpoint format's key names and its Trainer resumed them with a
    plain load_state_dict that matched none: the run went on from random weights (loss 8.4 instead of 0.59)."""
    out = tmp_path / "full-resume"
    changes = dict(method="full", max_steps=4, save_steps=2, save_total_limit=3, learning_rate=1e-3)
    run_training(config(data, out, **changes))
    shutil.rmtree(out / "model")
    shutil.rmtree(out / "checkpoints" / "checkpoint-4")
    run_training(config(data, out, **changes))
    first = {e["step"]: e["loss"] for e in read_log(out) if "loss" in e and e.get("attempt") == 1}
    again = {e["step"]: e["loss"] for e in read_log(out) if "loss" in e and e.get("attempt") == 2}
    assert sorted(again) == [3, 4]
    for step in again:  # the same curve from checkpoint-2's weights
        assert again[step] == pytest.approx(first[step], abs=1e-4), step


def test_lora_on_an_original_layout_mplug_owl2_checkpoint(data, tmp_path):
    from qinstruct.models.owl2 import MplugOwl2ForConditionalGeneration

    owl2 = ROOT / "tests" / "fixtures" / "owl2_original"
    result = run_training(config(data, tmp_path / "owl2", model=str(owl2), max_steps=4, save_steps=4,
                                 gradient_checkpointing=True))  # as GPU runs train
    assert all(v == v for v in losses(tmp_path / "owl2").values())  # finite losses, every step
    adapter = load_file(Path(result.model_dir) / "adapter_model.safetensors")
    lora = [key for key in adapter if "lora_" in key]
    assert lora and all(".model.layers." in key for key in lora)  # on the decoder only
    assert any("k_proj.multiway.1" in key for key in lora)  # the image tokens' K/V projections too
    model = load_model(result.model_dir)  # the tuned model loads on its original-layout base
    assert isinstance(model.model.get_base_model(), MplugOwl2ForConditionalGeneration)
    assert 1 <= model.rate([__import__("qinstruct.photos", fromlist=["x"]).demo_photo("chelsea", 64)])[0].score5


def files_of(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under a folder: its modification time and its bytes."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_running_a_finished_run_again_changes_nothing(data, tmp_path, capsys):
    """transformers resumed from the last checkpoint trains one step more ("step 4/3") and the model was rewritten;
    a finished run is refused as the job launcher refuses it, in one line, with nothing touched."""
    from qinstruct.cli import main
    from qinstruct.runs import RunBusy

    out = tmp_path / "finished"
    finished = config(data, out, max_steps=3, save_steps=2)
    run_training(finished)
    before, log = files_of(out), read_log(out)
    (tmp_path / "finished.yaml").write_text(config_to_yaml(finished))
    capsys.readouterr()
    assert main(["train", "--config", str(tmp_path / "finished.yaml")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {out} is done (its model is in {out / 'model'}); start a new "
                                               "run under another name")
    with pytest.raises(RunBusy, match="is done"):
        run_training(finished)
    assert files_of(out) == before and read_log(out) == log  # model/, checkpoints/, status and log untouched
    assert max(losses(out)) == 3 and read_status(out).state == "done"


def test_no_held_out_items_means_no_evaluation_whatever_eval_steps_says(data, tmp_path):
    """The Tune form's eval_steps with --eval-fraction 0: transformers refused an eval schedule without an eval
    set; with nothing held out there is simply no eval loss."""
    out = tmp_path / "no-eval"
    result = run_training(config(data, out, max_steps=2, save_steps=2, eval_fraction=0.0, eval_items=0,
                                 eval_steps=1))
    assert result.steps == 2 and result.eval_loss is None and read_status(out).state == "done"
    assert sorted(losses(out)) == [1, 2] and all(e.get("eval_loss") is None for e in read_log(out))
