"""Feedback statistics on hand-written feedbacks, and the exported report."""
import json

from qinstruct.stats.dataset import load_stats_dataset
from qinstruct.stats.report import StatsConfig, compute_report, export_report, report_tables, run_report
from qinstruct.stats.text import conclusion_level, text_stats

LEVELS = ("excellent", "good", "fair", "poor", "bad")
FEEDBACKS = [
    ("The duck on the left is blurred and there is heavy noise. The colours are vivid. "
     "Thus, the quality of the image is poor.", 25.0, "koniq"),
    ("Sharp details, good lighting, natural colours. Overall, the image quality is good.", 75.0, "koniq"),
    ("Motion blur streaks the car; the sky is over-exposed.", 55.0, "spaq"),  # no conclusion
]


def write_pathway(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"image": f"{i}.jpg", "source": s, "mos": m, "feedbacks": [t]}) + "\n"
                            for i, (t, m, s) in enumerate(FEEDBACKS)))
    return path


def test_conclusion_extraction():
    assert conclusion_level(FEEDBACKS[0][0], LEVELS) == "poor"
    assert conclusion_level(FEEDBACKS[1][0], LEVELS) == "good"
    assert conclusion_level(FEEDBACKS[2][0], LEVELS) == "none"
    assert conclusion_level("Good colours. I would rate the quality as fair.", LEVELS) == "fair"


def test_text_statistics(tmp_path):
    stats = text_stats(load_stats_dataset([str(write_pathway(tmp_path))]))
    assert stats.n_feedbacks == 3
    assert list(stats.words_per_feedback) == [len(t.split()) for t, _, _ in FEEDBACKS]
    assert stats.lowlevel_terms["motion blur"] == 1 and stats.lowlevel_terms["blurred"] == 1
    assert stats.lowlevel_terms["over-exposed"] == 1 and stats.lowlevel_terms["noise"] == 1
    assert stats.attribute_share["koniq"]["noise"] == 0.5 and stats.attribute_share["spaq"]["blur"] == 1.0
    assert stats.attribute_share["spaq"]["noise"] == 0.0
    assert stats.conclusion_by_band["[20,40)"]["poor"] == 1 and stats.conclusion_by_band["[40,60)"]["none"] == 1
    assert stats.word_frequencies["duck"] == 1 and "the" not in stats.word_frequencies


def test_report_export_and_filters(tmp_path):
    path = str(write_pathway(tmp_path))
    data = load_stats_dataset([path])
    common = {"files": [path], "out": str(tmp_path / "out")}
    report = compute_report(data, StatsConfig(**common, sources=["koniq"], mos_min=20, mos_max=60))
    assert len(report.data) == 1 and report.text.n_feedbacks == 1
    archive = export_report(compute_report(data, StatsConfig(**common, budget=1)), tmp_path / "out")
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"table1.csv", "report.md", "word_cloud.png", "mos_histograms.png", "lowlevel_words.png",
            "feedback_lengths.png", "attributes_per_source.png", "conclusion_by_mos.png"} <= names
    assert archive.name == "report.zip"
    table = report_tables(compute_report(data, StatsConfig(**common)))["table1.csv"].splitlines()
    assert table[0] == "source,size,mean,std,sampled_size,sampled_mean,sampled_std"
    assert table[1].startswith("koniq,2,50.0,25.0")
    assert "| koniq | 2 | 50.00 | 25.00 |" in (tmp_path / "out" / "report.md").read_text()


def test_report_job_is_reproducible(tmp_path):
    path = str(write_pathway(tmp_path))
    for out in ("a", "b"):
        run_report(StatsConfig(files=[path], out=str(tmp_path / out), budget=1, seed=3))
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "report.zip" in names
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)
