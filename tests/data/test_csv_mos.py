"""A MOS list as a spreadsheet (issue 35: "a MOS file in any format the loaders read, CSV included"): path and
score columns by their usual names, an optional standard deviation, read row by row like a JSON list."""
import json

import pytest

from qinstruct.data.levels import LevelsConfig, build_levels
from qinstruct.data.loaders import check_file, detect_format, stream_items
from qinstruct.data.stream import DataError


def test_a_csv_mos_list_reads_as_a_json_one(tmp_path):
    path = tmp_path / "koniq.csv"
    path.write_text("\ufeffImage,MOS,SD,comment\nA.jpg,3.91,0.52,sharp\nb.png, 1.20 ,,\nc.jpg,4.5,0.3,\n",
                    encoding="utf-8")  # a spreadsheet's byte-order mark, capitals, an empty std, spaces
    assert detect_format(path) == "mos"
    rows = list(stream_items(path))
    assert [(r.img_path, r.gt_score, r.std) for r in rows] == [("A.jpg", 3.91, 0.52), ("b.png", 1.2, None),
                                                               ("c.jpg", 4.5, 0.3)]
    out = tmp_path / "levels.json"
    build_levels(LevelsConfig(files=[str(path)], out=str(out), range=[1.0, 5.0]))
    assert [item["conversations"][1]["value"] for item in json.loads(out.read_text())] == [
        "The quality of the image is good.", "The quality of the image is bad.",
        "The quality of the image is excellent."]


def test_a_csv_without_the_columns_or_with_a_bad_row_is_one_line(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("file_id,rating\n1,3\n")
    with pytest.raises(DataError, match=r"needs a path column .* its header: file_id, rating"):
        list(stream_items(path))
    path.write_text("img_path,gt_score\na.jpg,3\nb.jpg,three\nc.jpg,4\n")
    with pytest.raises(DataError, match=r"line 3.*gt_score.*not a number"):
        list(stream_items(path, "mos"))
    checked = check_file(path, "mos", skip_invalid=True)
    assert checked.total == 3 and checked.skipped == 1
    (tmp_path / "latin1.csv").write_bytes("img_path,gt_score\ncaf\xe9.jpg,3\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text"):
        list(stream_items(tmp_path / "latin1.csv", "mos"))
    with pytest.raises(DataError, match="file is CSV; instruction files are"):  # only MOS lists come as CSV
        list(stream_items(tmp_path / "scores.csv", "instructions"))
