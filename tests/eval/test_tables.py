"""Tables for slides: the protocol that separates the models first, small samples flagged, a picture of each."""
import io

from PIL import Image

from qinstruct.eval.a1 import radar, tables
from qinstruct.eval.tables import Table


def a1_result(overall: float, n: int) -> dict:
    by_type = {"Yes-or-No": overall, "What": overall, "How": overall}
    by_concern = {"Distortion": overall, "Other": overall, "In-context Distortion": overall,
                  "In-context Other": overall}
    return {"n": n, "overall": overall, "by_type": by_type, "by_concern": by_concern}


def summary(n: int) -> dict:
    return {"protocol": "a1", "models": {
        "base": {"letter": a1_result(0.30, n), "likelihood": a1_result(0.30, n),
                 "likelihood_option_only": a1_result(0.30, n)},
        "tuned": {"letter": a1_result(0.32, n), "likelihood": a1_result(0.31, n),
                  "likelihood_option_only": a1_result(0.55, n)}}}


def test_the_protocol_that_separates_the_models_comes_first_and_names_the_radar():
    titles = [table.title for table in tables(summary(800))]
    assert titles == ["A1 perception, likelihood over the option's tokens", "A1 perception, letter protocol "
                      "(accuracy)", "A1 perception, likelihood protocol (Q-Bench's perplexity variant, whole sequence)"]
    axes = radar(summary(800))["tuned"]
    assert axes["A1 Yes-or-No (option tokens)"] == 0.55 and len(axes) == 7


def test_small_samples_are_flagged_under_the_table():
    small, large = tables(summary(40))[0], tables(summary(800))[0]
    assert "⚠ Small sample: N = 40 items per model; an accuracy is known to about ±0.15 (95%)" in \
        small.markdown("base")
    assert "Small sample" not in large.markdown("base")
    assert "Small sample" not in Table("A3", ["SRCC"], {"a": [0.5], "b": [0.6]}).markdown("a")  # no counts


def test_each_table_is_a_picture_for_a_slide():
    picture = Image.open(io.BytesIO(tables(summary(40))[0].png("base")))
    width, height = picture.size
    assert width > 2000 and 250 < height < 600  # wide, large type, a few rows


def test_a_model_whose_items_all_failed_shows_no_accuracy_and_its_unscored_count(tmp_path):
    """Compare showed 0.000 for a model that never answered: its cells are empty and the note says why."""
    import json

    from qinstruct.eval.a1 import A1Config, summarize, units
    from qinstruct.eval.report import radar as report_radar

    from .test_a1 import questions

    path = tmp_path / "q.json"
    path.write_text(json.dumps(questions()))
    config = A1Config(models=["good", "broken"], questions=str(path), protocols=["letter"])
    records = [{"model": "good", "protocol": "letter", "index": i, "answer": "B", "chosen": 1, "correct": True}
               for i in range(12)]
    records += [{"model": "broken", "protocol": "letter", "index": i, "error": "connection refused"}
                for i in range(12)]
    summary = summarize(config, units(config), records, "")
    (table,) = tables(summary)
    text = table.markdown("good")
    assert "| broken |" + " – |" * 8 in text and "| good |" in text
    assert "Not scored, left out of the figures: broken 12 of 12 items." in text
    assert table.csv().splitlines()[0].endswith(",Overall,Unscored") and table.csv().splitlines()[2] == \
        "broken," + "," * 7 + ",12"
    assert report_radar([summary]).axes[0].get_legend_handles_labels()[1] == ["good"]  # no polygon at 0 for it
