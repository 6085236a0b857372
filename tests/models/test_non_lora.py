"""A LLaVA-style LoRA release whose non_lora_trainables.bin is not a state dict of tensors (a pickle of something
else, damaged bytes, tensors of the wrong shape): one line naming the file, from the loader and from the CLI --
never a traceback, never a silent broadcast, and nothing in the file runs."""
import io
import pickle

import pytest
import torch
from peft import LoraConfig, get_peft_model

from qinstruct.cli import main
from qinstruct.models.families import tiny_model
from qinstruct.models.loading import ModelLoadError, load_model
from qinstruct.photos import demo_photo

# the tiny LLaVA's projector bias (64,), named as a PeftModel saw it, as released files name their weights
BIAS = "base_model.model.model.multi_modal_projector.linear_1.bias"


class RunsCode:
    """Pickles as a call of exec: what a hostile checkpoint would hold."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def zipped(state) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


CASES = {  # name -> (the file's bytes, given the marker a hostile file would create; what the error says)
    "a list": (lambda marker: zipped([torch.zeros(64)]), "holds list, not a dict"),
    "a dict of non-tensors": (lambda marker: zipped({BIAS: 3}), "maps to int, not a tensor"),
    "nested tensors": (lambda marker: zipped({BIAS: [torch.zeros(64)]}), "maps to list, not a tensor"),
    "a non-string key": (lambda marker: zipped({1: torch.zeros(64)}), "1 maps to Tensor"),
    "garbage bytes": (lambda marker: b"this is not a checkpoint", "not a readable state dict"),
    "an empty file": (lambda marker: b"", "not a readable state dict"),
    "a truncated file": (lambda marker: zipped({BIAS: torch.zeros(64)})[:300], "not a readable state dict"),
    "a pickle that runs code": (lambda marker: pickle.dumps(RunsCode(marker)), "weights-only load refuses"),
    "torch.save of code": (lambda marker: zipped(RunsCode(marker)), "weights-only load refuses"),
    "a broadcastable shape": (lambda marker: zipped({BIAS: torch.ones(1)}), r"bias is \(1,\), the base's is \(64,\)"),
    "a wrong shape": (lambda marker: zipped({BIAS: torch.ones(2, 3)}), r"bias is \(2, 3\), the base's is \(64,\)"),
}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A tiny LLaVA base and a LoRA adapter on it, as a folder pair; each test writes its own
    non_lora_trainables.bin into the adapter."""
    root = tmp_path_factory.mktemp("release")
    model, processor = tiny_model("llava", seed=3)
    model.save_pretrained(root / "base")
    processor.save_pretrained(root / "base")
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8,
                                                  target_modules=r".*language_model.*\.(q_proj|v_proj)"))
    peft_model.peft_config["default"].base_model_name_or_path = "../base"  # relative to the adapter folder
    peft_model.save_pretrained(root / "lora")
    demo_photo("chelsea", 64).save(root / "photo.png")
    return root


@pytest.mark.parametrize("case", list(CASES))
def test_a_non_lora_file_that_is_not_a_state_dict_is_one_line(release, case, tmp_path, capsys):
    make, says = CASES[case]
    marker = tmp_path / "ran"
    (release / "lora" / "non_lora_trainables.bin").write_bytes(make(marker))
    with pytest.raises(ModelLoadError, match=says) as caught:
        load_model(str(release / "lora"))
    assert "non_lora_trainables.bin" in str(caught.value) and "\n" not in str(caught.value)
    assert main(["rate", "--model", str(release / "lora"), str(release / "photo.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "non_lora_trainables.bin" in err and "Traceback" not in err
    assert not marker.exists()  # refused unread: the file's code never ran


def test_a_fitting_non_lora_file_still_loads(release):
    bias = torch.arange(64, dtype=torch.float32)
    torch.save({BIAS: bias}, release / "lora" / "non_lora_trainables.bin")
    tuned = load_model(str(release / "lora"))
    assert torch.equal(tuned.model.get_base_model().model.multi_modal_projector.linear_1.bias, bias)
