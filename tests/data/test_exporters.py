"""Q-Instruct JSON -> LLaMA-Factory ShareGPT and TRL messages/images."""
import json

from qinstruct.cli import main
from qinstruct.data.exporters import export_instructions, to_llamafactory, to_trl
from qinstruct.data.loaders import load_instructions
from qinstruct.data.records import InstructionItem, Turn

ITEM = InstructionItem("q1", "koniq/1.jpg", [Turn("human", "Rate the quality.\n<|image|>"),
                                            Turn("gpt", "Good."), Turn("human", "Why?"), Turn("gpt", "Sharp.")])


def test_llamafactory_sharegpt():
    out = to_llamafactory(ITEM, "data")
    assert out["images"] == ["data/koniq/1.jpg"]
    assert out["messages"][0] == {"role": "user", "content": "Rate the quality.\n<image>"}
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user", "assistant"]


def test_trl_places_the_image_where_its_token_was():
    out = to_trl(ITEM)
    assert out["images"] == ["koniq/1.jpg"]
    assert out["messages"][0]["content"] == [{"type": "text", "text": "Rate the quality."}, {"type": "image"}]
    assert out["messages"][1]["content"] == [{"type": "text", "text": "Good."}]


def test_export_files_and_dataset_info(tmp_path, shared_data):
    items = load_instructions(shared_data / "qalign/train_koniq_first300.json").items
    data_file, info_file = export_instructions(items, tmp_path, "llamafactory", name="koniq_sft")
    info = json.loads(info_file.read_text())
    assert info["koniq_sft"]["file_name"] == "koniq_sft.json" and info["koniq_sft"]["formatting"] == "sharegpt"
    rows = json.loads(data_file.read_text())
    assert len(rows) == 300 and all(sum(m["content"].count("<image>") for m in r["messages"]) == 1 for r in rows)
    assert main(["data", "export", str(shared_data / "qalign/train_koniq_first300.json"), "--to", "trl",
                 "--out", str(tmp_path / "trl")]) == 0
    lines = (tmp_path / "trl" / "qinstruct.jsonl").read_text().splitlines()
    assert len(lines) == 300 and json.loads(lines[0])["images"] == ["koniq/10004473376.jpg"]


def test_validate_command(tmp_path, shared_data, capsys):
    assert main(["data", "validate", str(shared_data / "qbench/mos/agi.json")]) == 0
    assert "2982 of 2982 items valid" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('[{"img_path": "a"}]')
    assert main(["data", "validate", str(bad), "--format", "mos"]) == 1
    assert "field 'gt_score': missing" in capsys.readouterr().err


def test_export_to_a_full_disk_keeps_the_previous_export(tiny_disk, shared_data):
    import pytest

    from qinstruct.fileio import WriteError

    items = load_instructions(shared_data / "qalign/train_koniq_first300.json").items
    (first,) = export_instructions(items[:5], tiny_disk, "trl", name="qi")
    before = first.read_bytes()
    with pytest.raises(WriteError, match="No space left on device"):
        export_instructions(items * 3, tiny_disk, "trl", name="qi")  # ~0.4 MB into 64 KiB
    assert first.read_bytes() == before and sorted(p.name for p in tiny_disk.iterdir()) == ["qi.jsonl"]
    assert main(["data", "export", str(shared_data / "qalign/train_koniq_first300.json"), "--to", "llava", "--out",
                 str(tiny_disk), "--name", "big"]) == 3  # the command line says so with its own exit status
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["qi.jsonl"]


def test_dataset_name_cannot_leave_the_output_folder(tmp_path):
    import pytest

    from qinstruct.config import ConfigError

    for name in ("../../x", "a/b", ".hidden", ""):
        with pytest.raises(ConfigError, match="dataset name"):
            export_instructions([ITEM], tmp_path / "out", "trl", name=name)
    assert not (tmp_path / "x.jsonl").exists()
