"""`qinstruct chat` and `qinstruct rate` end to end on tiny models."""
from qinstruct.cli import main


def test_chat_two_models_with_rating(shared_data, capsys):
    code = main(["chat", "--model", "tiny:llava", "--model", "tiny:idefics3", "--image",
                 str(shared_data / "images/211.jpg"), "--prompt", "Is this image clear?", "--max-new-tokens", "8",
                 "--rate"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("=== tiny:") == 2 and out.count("rating: P(good)=") == 2 and "untrained" in out


def test_chat_reports_a_bad_model_and_answers_with_the_other(shared_data, capsys):
    code = main(["chat", "--model", "tiny:llava", "--model", "/nope/model", "--image",
                 str(shared_data / "images/211.jpg"), "--prompt", "Hi", "--max-new-tokens", "4"])
    out = capsys.readouterr().out
    assert code == 1 and "error: /nope/model: no such model folder" in out


def test_rate_lines_and_bad_images(shared_data, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_text("no")
    images = [str(shared_data / "images" / n) for n in ("211.jpg", "sausage.jpg")]
    assert main(["rate", "--model", "tiny:qwen2-vl", *images, str(bad)]) == 3
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2 and all("P(good)=" in line and "Q-Align=" in line for line in lines)
    assert "bad.jpg: not an image file" in captured.err


def test_rate_with_compiled_blocks_prints_the_same_ratings(shared_data, capsys):
    images = [str(shared_data / "images" / n) for n in ("211.jpg", "sausage.jpg")]
    assert main(["rate", "--model", "tiny:llava", *images]) == 0
    plain = capsys.readouterr().out.strip().splitlines()
    from torch._dynamo.utils import counters

    counters.clear()
    assert main(["rate", "--model", "tiny:llava", "--compile", *images]) == 0
    compiled = capsys.readouterr().out.strip().splitlines()
    assert counters["stats"]["unique_graphs"] >= 2  # the CLIP and the Llama layer were compiled and ran
    assert len(compiled) == 2 and compiled == plain  # 4 printed decimals: equal up to float reassociation


def test_rate_corrupted_variants_at_the_models_input_size(shared_data, capsys):
    """--corruption: the image as the model sees it, then each corruption x severity of that, one line each."""
    from PIL import Image

    from qinstruct.corrupt import corrupt
    from qinstruct.models.loading import load_model
    from qinstruct.models.seen import as_model_sees, input_side

    image = str(shared_data / "images" / "211.jpg")
    assert main(["rate", "--model", "tiny:llava", image, "--corruption", "defocus_blur", "gaussian_noise",
                 "--severity", "1", "5", "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in rows] == [image] + [f"{image} [{c} s{s}]" for c in ("defocus_blur", "gaussian_noise")
                                                   for s in (1, 5)]
    model = load_model("tiny:llava")
    side = input_side(model)
    seen = as_model_sees(model, Image.open(image))
    assert side and seen.size == (side, side)
    again = model.rate([corrupt(seen, "gaussian_noise", 5, seed=0)])[0]
    assert abs(again.p_good - rows[-1]["p_good"]) < 1e-5  # the same variant the command rated
