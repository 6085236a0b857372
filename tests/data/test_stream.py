"""Reading data files item by item: every layout, items cut anywhere by the reader's chunks, and the three
things a stream meets at scale (a truncated last line, one huge item, a file still being written) said in one
line; exporting holds one item, not the file."""
import json
import random
import tracemalloc

import pytest

from qinstruct.data import stream
from qinstruct.data.exporters import export_instructions
from qinstruct.data.loaders import load_mos_list, stream_items
from qinstruct.data.stream import CONCATENATED, JSONL, LIST, DataError, JsonObjects


def objects_of(path):
    reader = JsonObjects(path)
    return [obj for obj, _ in reader], reader.layout


def random_value(rng: random.Random, depth: int = 0):
    pick = rng.random()
    if depth > 2 or pick < 0.3:
        return rng.choice([True, False, None, 12345.678, -1e-5, 7, -0.0, "a\u00e9\\\"b\u4e2d", "x" * rng.randint(0, 30)])
    if pick < 0.65:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_items_cut_anywhere_by_a_chunk_read_as_json_reads_them(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(stream, "CHUNK_CHARS", chunk)
    rng = random.Random(chunk)
    for _ in range(25):
        values = [random_value(rng) for _value in range(rng.randint(1, 6))]
        objects = [v if isinstance(v, dict) else {"v": v} for v in values]
        layouts = {
            "list.json": (json.dumps(values, indent=rng.choice([None, 1]), ensure_ascii=False), values, LIST),
            "lines.jsonl": ("\n".join(json.dumps(o) for o in objects) + "\n", objects, JSONL),
            "pretty.json": ("\n".join(json.dumps(o, indent=2) for o in objects), objects, JSONL),
            "joined.json": ("".join(json.dumps(o) for o in objects), objects,
                            CONCATENATED if len(objects) > 1 else JSONL),
        }
        for name, (text, expected, layout) in layouts.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
            assert objects_of(tmp_path / name) == (expected, layout), (chunk, name, text)


def test_lines_are_numbered_and_a_bom_is_skipped(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('\ufeff{"a": 1}\n\n{"b":\n 2}\n{"c": 3}\n', encoding="utf-8")
    assert [line for _, line in JsonObjects(path)] == [1, 3, 5]
    (tmp_path / "b.json").write_text('\ufeff [{"a": 1}]', encoding="utf-8")
    assert objects_of(tmp_path / "b.json") == ([{"a": 1}], LIST)


@pytest.mark.parametrize("text, message", [
    ('{"a": 1}\n{"b": 2', "bad JSON at line 2: the file ends inside an item (truncated?"),
    ('[{"a": 1},\n {"b": [1, 2', "bad JSON at line 2: the file ends inside an item (truncated?"),
    ('[{"a": 1},\n', "bad JSON at line 2: the file ends inside an item"),
    ('[{"a": 1},]', "bad JSON at line 1 column 11: Expecting value (a comma before the list's end)"),
    ('[{"a": 1} {"b": 2}]', "bad JSON at line 1 column 11: Expecting ',' delimiter"),
    ('[{"a": 1}] [2]', "bad JSON at line 1 column 12: Extra data after the JSON list"),
    ('{"a": 1}\n{"b": nope}\n{"c": 3}\n', "bad JSON at line 2 column 7: Expecting value"),
    ('{"a": "one\ntwo"}', "bad JSON at line 1 column 11: Invalid control character"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("", "empty file"),
    (" \n\t ", "empty file"),
])
def test_damage_is_said_in_one_line(tmp_path, text, message):
    path = tmp_path / "data.json"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        objects_of(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_one_huge_item_is_refused_but_a_huge_single_line_list_streams(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "MAX_OBJECT_CHARS", 10_000)
    monkeypatch.setattr(stream, "CHUNK_CHARS", 1000)
    huge = tmp_path / "huge.jsonl"
    huge.write_text(json.dumps({"img_path": "a.jpg", "note": "x" * 50_000}) + "\n")
    with pytest.raises(DataError, match=r"huge.jsonl: line 1: one item runs past"):
        objects_of(huge)
    rows = [{"img_path": f"{i}.jpg", "gt_score": i % 100} for i in range(5000)]  # ~230 KB on one line
    (tmp_path / "one-line.json").write_text(json.dumps(rows))
    assert load_mos_list(tmp_path / "one-line.json").total == 5000


def test_a_file_that_changes_while_it_is_read_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_CHARS", 64)
    path = tmp_path / "growing.jsonl"
    path.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(100)))
    reader = iter(JsonObjects(path))
    assert next(reader) == ({"n": 0}, 1)
    with path.open("a") as handle:
        handle.write(json.dumps({"n": 100}) + "\n")
    with pytest.raises(DataError, match="changed while it was read .* what this run finished is kept"):
        list(reader)


def test_a_concatenated_file_is_refused_where_its_format_wants_lines(tmp_path):
    path = tmp_path / "joined.json"
    path.write_text('{"id": "1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]}'
                    * 2)
    with pytest.raises(DataError, match=r"file is concatenated JSON objects \(\}\{\) \(that is the Q-Bench output layout\); instruction "
                       r"files are JSON Lines or JSON list"):
        list(stream_items(path, "instructions"))


def test_skipped_items_are_counted_and_only_the_first_are_kept(tmp_path, monkeypatch):
    from qinstruct.data import loaders

    monkeypatch.setattr(loaders, "MAX_KEPT_ERRORS", 3)
    path = tmp_path / "mos.json"
    path.write_text(json.dumps([{"img_path": "a.jpg", "gt_score": 1}] + [{"img_path": 5, "gt_score": 1}] * 10))
    result = load_mos_list(path, skip_invalid=True)
    assert (len(result.items), result.total, result.skipped, len(result.errors)) == (1, 11, 10, 3)
    assert result.summary().startswith(f"{path}: 1 of 11 items valid (JSON list); 10 skipped, first: ")


def test_an_export_holds_one_item_not_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_CHARS", 1 << 16)  # the reader's window, small against the file
    source = tmp_path / "items.json"
    answer = "The image is slightly blurry, with visible noise in the shadows. " * 4
    with source.open("w") as handle:
        handle.write("[" + ",\n".join(json.dumps({"id": str(i), "image": f"{i}.jpg", "conversations": [
            {"from": "human", "value": "<image>\nDescribe the quality."}, {"from": "gpt", "value": answer}]})
            for i in range(20_000)) + "]")
    size = source.stat().st_size
    tracemalloc.start()
    try:
        (written,) = export_instructions(stream_items(source, "instructions"), tmp_path / "out", "trl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(1 for _ in written.open()) == 20_000
    assert peak < size / 10, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
