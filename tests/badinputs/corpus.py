"""The bad-input corpus, written by code into a folder (nothing binary is committed).

`build(folder)` writes awkward images, data files, configs and model folders, and returns nothing: the cases
(cases.py) name the files they use.  Everything is small except two sparse files, which take no disk space.
"""
from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 64


def _rgb(size: int = SIZE) -> Image.Image:
    y, x = np.mgrid[0:size, 0:size]
    return Image.fromarray(np.stack([x * 4 % 256, y * 4 % 256, (x + y) * 2 % 256], -1).astype(np.uint8))


def _jpeg_bytes(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **kwargs)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring width x height, with one tiny compressed row: the bytes are few, the
    decoded pixels would be billions."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


XPM = """/* XPM */
static char *tiny[] = {
"40 40 2 1",
"  c #FFFFFF",
". c #000000",
""" + ",\n".join('"' + ("." * 20 + " " * 20) + '"' for _ in range(40)) + "\n};\n"


def images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    good = _jpeg_bytes(_rgb())
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (folder / "text.jpg").write_text("this is not a JPEG, it is a sentence.\n")
    (folder / "page.png").write_text("<!doctype html><html><body>not a PNG</body></html>\n")
    (folder / "bomb.png").write_bytes(_bomb_png(30000, 30000))
    Image.new("1", (10000, 10000)).save(folder / "hundred-mp.png")  # 100 MP, a few KB on disk
    _rgb().convert("CMYK").save(folder / "cmyk.jpg", format="JPEG")
    Image.fromarray((np.arange(SIZE * SIZE).reshape(SIZE, SIZE) * 16).astype(np.uint16)).save(folder / "grey16.png")
    Image.fromarray(np.linspace(0, 1, SIZE * SIZE, dtype=np.float32).reshape(SIZE, SIZE)).save(folder / "float.tif")
    _rgb().convert("LAB").save(folder / "lab.tif")
    palette = _rgb().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    palette.save(folder / "palette.png", transparency=0)
    frames = [_rgb().rotate(angle) for angle in (0, 90, 180)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(folder / "animated.webp", save_all=True, append_images=frames[1:], duration=100)
    _rgb(1).resize((1, 1)).save(folder / "one.png")
    _rgb(31).resize((31, 31)).save(folder / "thirty-one.png")
    exif = Image.Exif()
    exif[0x9286] = "x" * 60_000  # UserComment: a 60 KB EXIF block
    _rgb().save(folder / "huge-exif.jpg", exif=exif.tobytes())
    rotated = Image.Exif()
    rotated[0x0112] = 6  # orientation: rotate 90 degrees clockwise
    _rgb().crop((0, 0, SIZE, SIZE // 2)).save(folder / "rotated.jpg", exif=rotated.tobytes())
    (folder / "drawing.xpm").write_text(XPM)
    (folder / "fuzzed.qoi").write_bytes(b"qoif" + struct.pack(">II", 64, 64) + b"\x04\x00" + bytes(range(256)) * 3)
    twins = folder / "twins"
    twins.mkdir(exist_ok=True)
    _rgb().save(twins / "photo.jpg")
    _rgb().rotate(90).save(twins / "photo.png")
    mixed = folder / "mixed"
    mixed.mkdir(exist_ok=True)
    for name in ("cmyk.jpg", "lab.tif", "float.tif", "grey16.png", "palette.png", "animated.gif", "text.jpg"):
        (mixed / name).write_bytes((folder / name).read_bytes())
    damaged_tiffs(folder)
    (folder / "ztxt-bomb.png").write_bytes(_ztxt_bomb())
    (folder / "empty.png").write_bytes(b"")
    (folder / "page.html.png").write_text("<html><body>an HTML page</body></html>")
    (folder / "data.png").write_text(json.dumps([{"img_path": "/etc/passwd", "gt_score": 1}]))  # JSON called .png
    _rgb().save(folder / "really-png.jpg", format="PNG")  # PNG data under a JPEG name


def damaged_tiffs(folder: Path) -> None:
    """One flipped byte in a TIFF's tags makes Pillow raise what it likes (TypeError, ValueError...); a batch of
    them beside good images must write the good ones."""
    buffer = io.BytesIO()
    _rgb().save(buffer, format="TIFF")
    whole = buffer.getvalue()
    batch = folder / "tiff-batch"
    batch.mkdir(exist_ok=True)
    _rgb().save(batch / "good.png")
    _rgb().rotate(90).save(batch / "good2.jpg")
    for name, position, value in (("tag-type", 72, 7), ("dimensions", 12, 7), ("offsets", 102, 0)):
        data = bytearray(whole)
        data[position] = value
        (folder / f"tiff-{name}.tif").write_bytes(bytes(data))
        (batch / f"tiff-{name}.tif").write_bytes(bytes(data))


def _ztxt_bomb() -> bytes:
    """A small valid PNG with a zTXt chunk that inflates to 100 MB of text."""
    buffer = io.BytesIO()
    _rgb(32).save(buffer, format="PNG")
    png = buffer.getvalue()
    text = _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"A" * 100_000_000, 9))
    return png[:-12] + text + png[-12:]  # before IEND


def data(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    mos = [{"img_path": f"img/{i}.jpg", "gt_score": 3.0 + i / 10} for i in range(5)]
    (folder / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(mos).encode())
    (folder / "trailing-comma.json").write_text('[{"img_path": "a.jpg", "gt_score": 3.1},]')
    joined = "".join(json.dumps({"img_path": f"x/{i}.jpg", "gt_score": f"{i + 1.5} ", "logit_good": 1.0 + i,
                                 "logit_poor": 0.5}) for i in range(4))
    (folder / "qbench-joined.json").write_text(joined)
    (folder / "wrong-types.json").write_text('[{"img_path": 5, "gt_score": "high"}]')
    (folder / "unknown-type.json").write_text(json.dumps([{"img_path": "a.jpg", "question": "Is it clear?",
                                                           "candidates": ["Yes", "No"], "correct_ans": "Yes",
                                                           "type": 7, "concern": 0}]))
    (folder / "missing-images.json").write_text(json.dumps([{"id": "1", "image": "nowhere/1.jpg", "conversations": [
        {"from": "human", "value": "<image>\nRate."}, {"from": "gpt", "value": "Good."}]}]))
    (folder / "empty.json").write_text("")
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with open(folder / "sparse-200mb.json", "wb") as handle:
        handle.truncate(200 * 10**6)  # zeros on no disk: read, then refused as not JSON
    with open(folder / "sparse-1100mb.json", "wb") as handle:
        handle.truncate(1100 * 10**6)  # read as a stream: refused at its first byte
    with open(folder / "single-line-2gb.json", "wb") as handle:
        handle.write(b'[{"img_path": "a.jpg", "gt_score": 3.1}, ')  # one item, then 2 GB of zeros on one line
        handle.truncate(2 * 10**9)
    (folder / "truncated.jsonl").write_text('{"image": "a.png", "source": "s", "mos": 40, "feedbacks": ["Fine."]}\n'
                                            '{"image": "b.png", "source": "s", "mos": 4')
    (folder / "latin1.json").write_bytes('[{"img_path": "café.jpg", "gt_score": 3}]'.encode("latin-1"))
    (folder / "a-folder.json").mkdir(exist_ok=True)
    record = {"image": "img/1.png", "source": "test", "mos": 40.0}
    (folder / "pathway-twice.jsonl").write_text(
        json.dumps({**record, "feedbacks": ["The image is blurry. The quality is poor."]}) + "\n"
        + json.dumps({**record, "feedbacks": ["Heavy noise everywhere. Overall the quality is bad."]}) + "\n")
    (folder / "pathway-bad.jsonl").write_text('{"image": 3, "feedbacks": "none"}\n')
    items = [{"id": str(i), "image": f"img/{i}.jpg", "conversations": [
        {"from": "human", "value": "<image>\nRate the quality."}, {"from": "gpt", "value": "Good."}]} for i in range(3)]
    (folder / "instructions.json").write_text(json.dumps(items))
    (folder / "references.json").write_text(json.dumps([{"img_path": "../images/cmyk.jpg",
                                                          "description": "A sharp, well exposed photo."}]))
    unanswered = [{**items[0], "conversations": items[0]["conversations"][:1]}]  # a question with no answer
    (folder / "no-answer.json").write_text(json.dumps(unanswered))
    qbench = [json.loads(line) for line in [json.dumps({"img_path": f"x/{i}.jpg", "gt_score": i + 1.0,
                                                        "logit_good": 1.0 + i, "logit_poor": 0.5}) for i in range(6)]]
    (folder / "qbench-two-rows.json").write_text("".join(json.dumps(r) for r in qbench[:2]))
    mixed = qbench[:3] + [{"img_path": r["img_path"], "gt_score": r["gt_score"], "logit_high": 1.0, "logit_low": 0.0}
                          for r in qbench[3:]]
    (folder / "qbench-mixed-keys.json").write_text("".join(json.dumps(r) for r in mixed))
    questions = [{"img_path": "../images/cmyk.jpg", "question": "Is this image clear?", "candidates": ["Yes", "No"],
                  "correct_ans": "Yes", "type": 0, "concern": 0}]
    (folder / "questions.json").write_text(json.dumps(questions * 2))
    escaping = [{**questions[0], "img_path": path} for path in
                ("/etc/passwd", "../../../../../../../../etc/hostname", "/no/such/file.png", "../images/cmyk.jpg")]
    (folder / "questions-outside.json").write_text(json.dumps(escaping))
    (folder / "questions-other.json").write_text(json.dumps(questions * 3))
    (folder / "answers-garbage.jsonl").write_text("this is not JSON\n")
    (folder / "answers-wrong-keys.jsonl").write_text(json.dumps({"idx": 0, "text": "A"}) + "\n")
    (folder / "answers-out-of-range.jsonl").write_text(json.dumps({"index": 99, "answer": "A"}) + "\n")
    (folder / "answers-partial.jsonl").write_text(json.dumps({"index": 0, "answer": "A"}) + "\n")
    (folder / "prices-list.yaml").write_text("- gpt-4o-mini\n")
    (folder / "prices-bad.yaml").write_text("gpt-4o-mini: {input: cheap}\n")
    (folder / "a-file").write_text("not a folder")
    damaged = folder / "damaged-eval"
    damaged.mkdir(exist_ok=True)
    (damaged / "summary.json").write_text('{"protocol": "a1", "models": ')
    (damaged / "status.json").write_text(json.dumps({"kind": "eval-a1", "state": "done"}))


def workspace_runs(folder: Path) -> None:
    """A workspace whose run folders include damaged status files: the listing skips them and says so."""
    for name, status in (("ok", {"kind": "train", "state": "done", "started": "2026-12-01T10:00:00"}),
                         ("numeric-started", {"kind": "train", "state": "done", "started": 1796000000}),
                         ("null-kind", {"kind": None, "state": "done"}),
                         ("list", [1, 2, 3]),
                         ("unknown-state", {"kind": "train", "state": "exploded"})):
        run = folder / "runs" / name
        run.mkdir(parents=True, exist_ok=True)
        (run / "status.json").write_text(json.dumps(status))


def looping_workspace(folder: Path) -> None:
    """A workspace whose folders link back to themselves (runs/loop -> runs/.., a run's `up` -> the workspace):
    the listing ends and names each run once."""
    run = folder / "runs" / "ok"
    run.mkdir(parents=True, exist_ok=True)
    (run / "status.json").write_text(json.dumps({"kind": "train", "state": "done", "started": "2026-12-02T10:00:00"}))
    for link, target in ((folder / "runs" / "loop", ".."), (run / "up", "../.."),
                         (folder / "evals" / "self", "../evals")):
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(target)


def damaged_checkpoints(folder: Path) -> None:
    """A tiny training's run folder, copied with one file of its newest checkpoint damaged in each copy (and an
    aborted copy for the changed-config case)."""
    import shutil

    from qinstruct.train.config import TrainConfig
    from qinstruct.train.trainer import run_training

    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "source"
    if not (source / "model").is_dir():
        items = [{"id": str(i), "image": "cmyk.jpg", "conversations": [
            {"from": "human", "value": "<image>\nIs this image clear?"}, {"from": "gpt", "value": "Yes."}]}
            for i in range(24)]
        (folder / "items.json").write_text(json.dumps(items))
        run_training(TrainConfig(model="tiny:llava", output_dir=str(source), strategy="after",
                                 low_level=[str(folder / "items.json")], image_root=str(folder.parent / "images"),
                                 max_steps=4, save_steps=2, save_total_limit=3, batch_size=2, device="cpu",
                                 gradient_checkpointing=False, group_by_length=False, lora_r=4, lora_alpha=8))
    for damaged in ("trainer_state.json", "optimizer.pt", "rng_state.pth", "adapter_model.safetensors"):
        copy = folder / f"garbage-{damaged.split('.')[0]}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy)
        shutil.rmtree(copy / "model")
        status = json.loads((copy / "status.json").read_text())
        (copy / "status.json").write_text(json.dumps({**status, "state": "aborted"}))
        target = copy / "checkpoints" / "checkpoint-4" / damaged
        target.write_bytes(b"{garbage" if damaged.endswith(".json") else target.read_bytes()[:64])
        (copy / "config.yaml").write_text((copy / "config.yaml").read_text().replace(str(source), str(copy)))


def configs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "unknown-key.yaml").write_text("source: a\nout: b\ncorruptions: [fog]\ncolour: red\n")
    (folder / "wrong-type.yaml").write_text("source: a\nout: b\ncorruptions: [fog]\nseed: many\n")
    (folder / "negative.yaml").write_text("input: p.jsonl\nout: o\ntimeout: -1\n")
    (folder / "latin1.yaml").write_bytes("source: café\nout: b\n".encode("latin-1"))
    (folder / "list.yaml").write_text("- source\n- out\n")
    (folder / "broken.yaml").write_text("source: [unclosed\n")


def models(folder: Path) -> None:
    """Model folders that cannot load, each for its own reason (a tiny random LLaVA is their raw material)."""
    from qinstruct.models.families import tiny_model

    folder.mkdir(parents=True, exist_ok=True)
    model, processor = tiny_model("llava", 0)
    base = folder / "base"
    if not (base / "config.json").is_file():
        model.save_pretrained(base)
        processor.save_pretrained(base)
    no_processor = folder / "no-processor"
    if not (no_processor / "config.json").is_file():
        model.save_pretrained(no_processor)
    adapter = {"base_model_name_or_path": str(base), "peft_type": "LORA", "r": 4, "lora_alpha": 8,
               "target_modules": ["q_proj"], "task_type": None}
    for name, config in (("adapter-missing-base", {**adapter, "base_model_name_or_path": str(folder / "gone")}),
                         ("adapter-mismatched", {**adapter, "base_model_name_or_path": "tiny:idefics3"})):
        (folder / name).mkdir(exist_ok=True)
        (folder / name / "adapter_config.json").write_text(json.dumps(config))
    (folder / "adapter-bad-json").mkdir(exist_ok=True)
    (folder / "adapter-bad-json" / "adapter_config.json").write_text("{'not': json")
    non_lora_releases(folder, model)


class _RunsCode:
    """Pickles as a call of exec: what a hostile checkpoint would hold (loading it must not create `marker`)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def non_lora_releases(folder: Path, model) -> None:
    """LLaVA-style LoRA releases on the tiny base whose non_lora_trainables.bin is not a state dict of tensors:
    a pickled list, bytes of garbage, a pickle that would run code, a tensor of a broadcastable shape."""
    import pickle
    import shutil

    import torch
    from peft import LoraConfig, get_peft_model

    lora = folder / "lora"
    if not (lora / "adapter_config.json").is_file():
        peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8,
                                                      target_modules=r".*language_model.*\.(q_proj|v_proj)"))
        peft_model.peft_config["default"].base_model_name_or_path = "../base"  # relative to the adapter folder
        peft_model.save_pretrained(lora)

    def saved(state) -> bytes:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    bias = "base_model.model.model.multi_modal_projector.linear_1.bias"  # (64,) in the tiny LLaVA
    for name, content in (("list", saved([torch.zeros(64)])), ("garbage", b"this is not a checkpoint"),
                          ("code", pickle.dumps(_RunsCode(folder / "non-lora-code-ran"))),
                          ("shape", saved({bias: torch.ones(1)}))):
        release = folder / f"non-lora-{name}"
        shutil.rmtree(release, ignore_errors=True)
        shutil.copytree(lora, release)
        (release / "non_lora_trainables.bin").write_bytes(content)


def build(folder: Path) -> Path:
    images(folder / "images")
    data(folder / "data")
    configs(folder / "configs")
    models(folder / "models")
    workspace_runs(folder / "workspace")
    looping_workspace(folder / "workspace-loops")
    damaged_checkpoints(folder / "runs")
    return folder
