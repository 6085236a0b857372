"""The micro demo models shipped in assets/models/: small, half precision, documented, installed into a
workspace once, and the tuned one sees blur and noise where the baseline does not."""
import json
import shutil

import pytest
from safetensors import safe_open

from qinstruct.cli import main
from qinstruct.demo.examples import held_out_examples
from qinstruct.demo.shipped import (
    ASSETS,
    BASELINE,
    MANIFEST,
    TUNED,
    install,
    shipped_names,
    shipped_radar,
    shipped_report,
)
from qinstruct.images import load_rgb
from qinstruct.models.loading import load_model


def test_shipped_models_are_small_half_precision_and_carry_their_manifest():
    names = shipped_names()
    assert {BASELINE, TUNED} <= set(names)
    assert sum(f.stat().st_size for f in ASSETS.rglob("*") if f.is_file()) <= 25 * 2**20
    for name in names:
        manifest = json.loads((ASSETS / name / MANIFEST).read_text())
        # seed 1: of the two seeds trained on this world, the one ahead on the held-out A3 (README)
        assert manifest["command"].startswith("qinstruct demo reproduce --out") and manifest["seed"] == 1
        assert "--seed 1" in manifest["command"] and manifest["size"] == "full"
        assert len(manifest["commit"] or "") == 40 and manifest["held_out"]["a3_srcc"] is not None
        with safe_open(str(ASSETS / name / "model.safetensors"), "pt") as weights:
            assert {str(weights.get_slice(k).get_dtype()) for k in weights.keys()} <= {"F16", "I64"}
    assert "Strategies (Table 9's shape" in shipped_report()


def test_install_copies_once_and_again_when_the_shipped_manifest_changes(tmp_path):
    assets, models = tmp_path / "assets", tmp_path / "workspace" / "models"
    shutil.copytree(ASSETS / BASELINE, assets / BASELINE)
    models.mkdir(parents=True)
    assert install(models, assets) == [BASELINE]
    weights = models / BASELINE / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert install(models, assets) == [BASELINE] and weights.stat().st_mtime_ns == stamp  # current: untouched
    (assets / BASELINE / MANIFEST).write_text((assets / BASELINE / MANIFEST).read_text().replace("seed", "seed "))
    install(models, assets)
    assert (models / BASELINE / MANIFEST).read_text() == (assets / BASELINE / MANIFEST).read_text()
    assert not list(models.glob(".*copying"))


def test_demo_models_command_installs_them_and_prints_their_figures(tmp_path, capsys):
    assert main(["demo", "models", "--workspace", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{BASELINE}\t" in out and "a3_srcc" in out
    assert load_model(str(tmp_path / "models" / TUNED)).trained


def quality_drop(model, examples, corruption):
    """P(good) of the pristine held-out images minus P(good) of the same images at severity 5."""
    pristine = [load_rgb(p) for p, caption in examples if caption.endswith("pristine")]
    worst = [load_rgb(p) for p, caption in examples if caption.endswith(f"{corruption} s5")]
    good = [r.p_good for r in model.rate(pristine)]
    bad = [r.p_good for r in model.rate(worst)]
    return sum(good) / len(good) - sum(bad) / len(bad)


# measured 0.294 and 0.663 (the models before issue 20's world: 0.428 and 0.665); the 64-px blur they traded for
# the right order on real photographs (tests/models/test_tiles.py); the 600-step model of the old world: 0.05
@pytest.mark.parametrize("corruption,least", [("defocus_blur", 0.25), ("gaussian_noise", 0.5)])
def test_the_tuned_model_sees_blur_and_noise_the_baseline_does_not(tmp_path, corruption, least):
    examples = held_out_examples(tmp_path)  # a held-out photograph and a scene, never trained on
    baseline, tuned = load_model(str(ASSETS / BASELINE)), load_model(str(ASSETS / TUNED))
    assert quality_drop(tuned, examples, corruption) > least
    assert abs(quality_drop(baseline, examples, corruption)) < 0.15


def test_the_shipped_report_leads_with_the_protocol_that_separates_the_models():
    headings = [line for line in shipped_report().splitlines() if line.startswith("### A1")]
    assert headings[0] == "### A1 perception, likelihood over the option's tokens"  # baseline 0.365, mix 0.619
    assert headings[-1].startswith("### A1 perception, likelihood protocol")  # baseline 0.376, mix 0.404: last
    figure = shipped_radar()  # drawn from strategies.json by today's code: its A1 axes say their protocol
    labels = [label.get_text().replace("\n", " ") for label in figure.axes[0].get_xticklabels()]  # wrapped
    assert "A1 Yes-or-No (option tokens)" in labels and "A3 demo" in labels
    assert min(label.get_fontsize() for label in figure.axes[0].get_xticklabels()) >= 10  # not ~9 px on a slide
