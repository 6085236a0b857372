"""The MOS-balancing sampler: exact budgets, flatter histograms, reproducible."""
import json

import numpy as np
import pytest

from qinstruct.cli import main
from qinstruct.stats.balance import BalanceConfig, balance, flatness, histogram, water_fill
from qinstruct.stats.dataset import load_stats_dataset


def test_water_fill_is_as_flat_as_the_counts_allow():
    rng = np.random.default_rng(0)
    alloc = water_fill(np.array([5, 100, 100, 20, 0]), 90, rng)
    assert alloc.sum() == 90 and alloc[0] == 5 and alloc[3] == 20 and alloc[4] == 0
    assert abs(int(alloc[1]) - int(alloc[2])) <= 1
    assert (water_fill(np.array([3, 4]), 100, rng) == [3, 4]).all()


def test_balance_reduces_skew_and_is_reproducible(shared_data):
    data = load_stats_dataset([f"{shared_data}/qbench/mos/livec.json=LIVE-itw",
                               f"{shared_data}/qbench/mos/agi.json=AGIQA-3K"])
    first = balance(data, BalanceConfig(budget=500, seed=3))
    again = balance(data, BalanceConfig(budget=500, seed=3))
    other = balance(data, BalanceConfig(budget=500, seed=4))
    assert first.images == again.images and first.images != other.images
    for source in ("LIVE-itw", "AGIQA-3K"):
        before, after = histogram(data.filter([source]).mos_array), histogram(first.filter([source]).mos_array)
        assert after.sum() == 500
        assert flatness(after) > flatness(before) + 0.05
        assert (after <= before).all()  # a sub-sample, never more than there was
    assert set(first.images) <= set(data.images)


def test_per_source_budgets(shared_data):
    data = load_stats_dataset([f"{shared_data}/qbench/mos/livec.json=A", f"{shared_data}/qbench/mos/agi.json=B"])
    sampled = balance(data, BalanceConfig(budget=10_000, budgets={"B": 300}))
    assert len(sampled.filter(["A"])) == 1169 and len(sampled.filter(["B"])) == 300


def test_balance_command_writes_the_sample(shared_data, tmp_path, capsys):
    out = tmp_path / "sampled.json"
    assert main(["stats", "balance", f"{shared_data}/qbench/mos/agi.json=AGIQA-3K", "--budget", "800",
                 "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 800 and {r["source"] for r in rows} == {"AGIQA-3K"}
    assert all(0 <= r["gt_score"] <= 100 for r in rows)
    assert "AGIQA-3K: 2982 -> 800 items; flatness 0.865 ->" in capsys.readouterr().err


def test_bad_budget_is_a_clear_error(shared_data, capsys):
    assert main(["stats", "balance", f"{shared_data}/qbench/mos/agi.json", "--budget", "lots", "--out", "x"]) == 2
    assert "budget: expected N or SOURCE=N, got 'lots'" in capsys.readouterr().err
    with pytest.raises(Exception, match="budgets must be at least 1"):
        BalanceConfig(budget=0).validate()
