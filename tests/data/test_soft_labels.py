"""DeQA-Score's soft labels against its own functions (imported from ../shared/reference as an oracle), and
`qinstruct data levels --soft` writing them beside Q-Align's level items."""
import importlib.util
import json

import pytest

from qinstruct.data.levels import LevelsConfig, build_levels
from qinstruct.data.soft_labels import soft_level_target

from ..conftest import SHARED_DATA

DEQA = SHARED_DATA.parent / "reference" / "deqa_score" / "build_soft_labels_gen_soft_label.py"


@pytest.fixture(scope="module")
def deqa():
    if not DEQA.is_file():
        pytest.skip("../shared/reference/deqa_score is not here")
    spec = importlib.util.spec_from_file_location("deqa_soft_labels", DEQA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def original_soft_label(deqa, mos, std, lowest, highest, density, thre_std=0.2, thre_diff=0.1):
    """The body of DeQA-Score's gen_soft_label.main for one image, line for line, on its own functions."""
    from scipy.stats import norm

    mos_norm = 4 * (mos - lowest) / (highest - lowest) + 1
    std_norm = 4 * std / (highest - lowest)
    probs = []
    for x in range(5, 0, -1):
        if density == "cdf":
            probs.append(norm.cdf(x + 0.5, mos_norm, std_norm) - norm.cdf(x - 0.5, mos_norm, std_norm))
        else:
            probs.append(norm.pdf(x, loc=mos_norm, scale=std_norm))
    alpha, beta = deqa.adjust_gaussian_bar(probs, mos_norm)
    probs_norm = [max(p * alpha + beta, 0) for p in probs]
    diff = abs(sum(p * v for p, v in zip(probs_norm, [5, 4, 3, 2, 1])) - mos_norm)
    if std_norm < thre_std or diff > thre_diff:
        return deqa.get_binary_probs(mos_norm), True
    return probs_norm, False


# (MOS, std, scale's lowest, highest, density): KonIQ-like 1-5 with wide and narrow deviations, SPAQ-like 0-100,
# the ends of the scale, and a deviation too small for a Gaussian
CASES = [(3.2, 0.6, 1.0, 5.0, "pdf"), (4.7, 0.45, 1.0, 5.0, "pdf"), (1.1, 0.3, 1.0, 5.0, "pdf"),
         (62.5, 9.0, 0.0, 100.0, "cdf"), (12.0, 14.0, 0.0, 100.0, "cdf"), (3.0, 0.01, 1.0, 5.0, "pdf"),
         (5.0, 0.05, 1.0, 5.0, "cdf"), (2.5, 1.2, 1.0, 5.0, "pdf"), (88.0, 3.0, 0.0, 100.0, "pdf")]


@pytest.mark.parametrize("mos, std, lowest, highest, density", CASES)
def test_soft_labels_are_deqa_scores_own(deqa, mos, std, lowest, highest, density):
    expected, binary = original_soft_label(deqa, mos, std, lowest, highest, density)
    target = soft_level_target(mos, std, lowest, highest, density)
    assert target.one_hot_pair == binary
    assert target.probs == pytest.approx([float(p) for p in expected], abs=1e-6)
    assert 1 - 1e-6 <= sum(target.probs) < 1.05  # the original clips negative masses and does not renormalise
    if not binary:
        assert target.expectation == pytest.approx(target.mos, abs=0.1)  # the rescaling's purpose


def test_soft_labels_refuse_what_cannot_be_a_target():
    with pytest.raises(ValueError, match="constant scores"):
        soft_level_target(3.0, 0.5, 3.0, 3.0)
    with pytest.raises(ValueError, match="finite"):
        soft_level_target(float("nan"), 0.5, 1.0, 5.0)
    with pytest.raises(ValueError, match="density"):
        soft_level_target(3.0, 0.5, 1.0, 5.0, density="histogram")


def test_data_levels_writes_soft_labels_beside_the_levels(tmp_path, deqa):
    mos = tmp_path / "mos.json"
    rows = [{"img_path": f"{k}.jpg", "gt_score": score, "std": std}
            for k, (score, std) in enumerate([(10.0, 8.0), (35.0, 12.0), (60.0, 0.5), (90.0, 9.0)])]
    mos.write_text(json.dumps(rows))
    out = tmp_path / "levels.json"
    build_levels(LevelsConfig(files=[f"{mos}=spaq"], out=str(out), range=[0.0, 100.0], soft="cdf"))
    items = json.loads(out.read_text())
    for item, row in zip(items, rows):
        expected, _ = original_soft_label(deqa, row["gt_score"], row["std"], 0.0, 100.0, "cdf")
        assert item["level_probs"] == pytest.approx([float(p) for p in expected], abs=1e-6)
        assert item["gt_score_norm"] == pytest.approx(4 * row["gt_score"] / 100 + 1)
    assert items[2]["level_probs"] == pytest.approx([0, 0.4, 0.6, 0, 0])  # ± 0.5 of 100: too narrow, 3.4 split
    rows[1].pop("std")
    mos.write_text(json.dumps(rows))
    with pytest.raises(Exception, match=r"1.jpg has no \"std\": soft labels need"):
        build_levels(LevelsConfig(files=[str(mos)], out=str(tmp_path / "other.json"), soft="pdf"))
    assert not (tmp_path / "other.json").exists()  # nothing half-written
    build_levels(LevelsConfig(files=[str(mos)], out=str(tmp_path / "plain.json")))  # plain levels need no std
    assert "level_probs" not in json.loads((tmp_path / "plain.json").read_text())[0]
