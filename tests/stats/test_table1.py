"""Table 1 on the real MOS lists: the paper's figures."""
import json

import pytest

from qinstruct.cli import main
from qinstruct.stats.dataset import infer_scale, load_stats_dataset, parse_scales
from qinstruct.stats.table1 import format_table1, table1


def test_livec_matches_the_paper(shared_data, capsys):
    assert main(["stats", "table1", str(shared_data / "qbench/mos/livec.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"source": "livec", "size": 1169, "mean": 55.39, "std": 20.28}]


def test_agiqa_is_rescaled_by_inference_or_declaration(shared_data):
    inferred = table1(load_stats_dataset([f"{shared_data}/qbench/mos/agi.json=AGIQA-3K"]))
    assert [(r.source, r.size, r.mean, r.std) for r in inferred] == [("AGIQA-3K", 2982, 50.01, 19.95)]
    declared = table1(load_stats_dataset([f"{shared_data}/qbench/mos/agi.json=AGIQA-3K"],
                                         parse_scales(["AGIQA-3K=1"])))
    assert declared[0].mean == pytest.approx(2.5, abs=0.01)


def test_several_files_and_qbench_outputs(shared_data):
    data = load_stats_dataset([f"{shared_data}/qbench/mos/livec.json=LIVE-itw",
                               f"{shared_data}/qbench/iqa_outputs/llava_v1.5/livec.json=LIVE-itw-outputs"])
    rows = {r.source: r for r in table1(data)}
    assert rows["LIVE-itw"].mean == rows["LIVE-itw-outputs"].mean == 55.39
    markdown = format_table1(table1(data))
    assert "| LIVE-itw | 1,169 | 55.39 | 20.28 |" in markdown


@pytest.mark.parametrize("top, factor", [(0.9, 100), (4.8, 20), (9.5, 10), (87.0, 1)])
def test_scale_inference(top, factor):
    import numpy as np

    assert infer_scale(np.array([0.1, top])) == factor


def test_bad_scale_spec():
    with pytest.raises(ValueError, match="SOURCE=FACTOR"):
        parse_scales(["AGIQA"])
