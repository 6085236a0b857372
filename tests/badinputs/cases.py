"""The cases of the bad-input corpus: every entry point, each with the clear outcome a user should get.

Placeholders: {I} images, {D} data files, {C} configs, {M} model folders (all under the corpus folder), {O} a
fresh output folder of the case, {URL} the misbehaving endpoint (endpoint.py), {DEAD} an endpoint nobody
listens on.  A CLI case expects one of the exit statuses and a message; an API case (the running studio,
through gradio_client) expects an answer ("ok", with the message in it) or an error message on the tab.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cli:
    name: str
    argv: tuple[str, ...]
    codes: tuple[int, ...]
    message: str = ""  # expected in stdout + stderr


@dataclass(frozen=True)
class Api:
    name: str
    api_name: str
    kwargs: dict
    expect: str  # "ok" or "error"
    message: str = ""  # in the answer (ok) or in the error


def cli(name: str, command: str, codes: tuple[int, ...], message: str = "") -> Cli:
    import shlex

    return Cli(name, tuple(shlex.split(command)), codes, message)


CORRUPT = "corrupt {I}/%s --out {O} --corruption fog"
RATE = "rate --model tiny:llava {I}/%s"

CLI_CASES = [
    # images, through the corruption batch (one file: exit 2; a folder with some bad files: exit 3)
    cli("zero-byte image", CORRUPT % "zero.jpg", (2,), "empty file (0 bytes)"),
    cli("truncated JPEG", CORRUPT % "truncated.jpg", (2,), "unreadable image data"),
    cli("text as JPEG", CORRUPT % "text.jpg", (2,), "not an image file we read"),
    cli("HTML as PNG", CORRUPT % "page.png", (2,), "not an image file we read"),
    cli("PNG header of 30000 x 30000", CORRUPT % "bomb.png", (2,), "decompression bomb"),
    cli("100 MP image", CORRUPT % "hundred-mp.png", (2,), "100.0 megapixels"),
    cli("CMYK JPEG to PNG", CORRUPT % "cmyk.jpg", (0,), "wrote 1 image"),
    cli("CMYK JPEG to JPEG", CORRUPT % "cmyk.jpg" + " --format jpg", (0,), "wrote 1 image"),
    cli("CMYK JPEG to WebP", CORRUPT % "cmyk.jpg" + " --format webp", (0,), "wrote 1 image"),
    cli("16-bit PNG", CORRUPT % "grey16.png", (0,), "wrote 1 image"),
    cli("32-bit float TIFF", CORRUPT % "float.tif", (0,), "wrote 1 image"),
    cli("float TIFF to WebP", CORRUPT % "float.tif" + " --format webp", (0,), "wrote 1 image"),
    cli("LAB TIFF", CORRUPT % "lab.tif", (0,), "wrote 1 image"),
    cli("LAB TIFF to JPEG", CORRUPT % "lab.tif" + " --format jpg", (0,), "wrote 1 image"),
    cli("palette PNG with transparency", CORRUPT % "palette.png", (0,), "wrote 1 image"),
    cli("animated GIF", CORRUPT % "animated.gif", (0,), "first of its 3 frames"),
    cli("animated WebP", CORRUPT % "animated.webp", (0,), "first of its 3 frames"),
    cli("1 x 1 image", CORRUPT % "one.png", (2,), "need at least 32 px"),
    cli("31 x 31 image", CORRUPT % "thirty-one.png", (2,), "need at least 32 px"),
    cli("huge EXIF", CORRUPT % "huge-exif.jpg", (0,), "wrote 1 image"),
    cli("EXIF-rotated JPEG", CORRUPT % "rotated.jpg", (0,), "wrote 1 image"),
    cli("XPM file", CORRUPT % "drawing.xpm", (2,), "not an image file we read"),
    cli("fuzzed QOI", CORRUPT % "fuzzed.qoi", (2,), "not an image file we read"),
    cli("photo.jpg and photo.png", CORRUPT % "twins", (0,), "wrote 2 image"),
    cli("a batch of awkward modes", CORRUPT % "mixed" + " --severity 2 5", (3,), "wrote 12 image"),
    cli("out equal to source", "corrupt {I}/twins --out {I}/twins --corruption fog", (2,), "out must differ"),
    cli("NaN megapixel limit", CORRUPT % "twins" + " --max-megapixels nan", (2,), "expected a value > 0, got nan"),
    cli("no such source", CORRUPT % "nothing-here", (2,), "no such file or folder"),
    # data files
    cli("JSON with a BOM", "data validate {D}/bom.json", (0,), "5 of 5 items valid"),
    cli("trailing comma", "data validate {D}/trailing-comma.json", (1,), "bad JSON at line 1"),
    cli("}{-joined Q-Bench outputs", "data validate {D}/qbench-joined.json", (0,), "4 of 4 items valid"),
    cli("wrong field types", "data validate {D}/wrong-types.json --format mos", (1,), "field 'img_path'"),
    cli("unknown type code", "data validate {D}/unknown-type.json", (1,), "type"),
    cli("missing images, strict", "data validate {D}/missing-images.json --image-root {D} --strict", (1,),
        "missing"),
    cli("empty file", "data validate {D}/empty.json", (1,), "empty file"),
    cli("deeply nested JSON", "stats table1 {D}/deep.json", (2,), "nested too deeply"),
    cli("200 MB of zeros", "stats table1 {D}/sparse-200mb.json", (2,), "sparse-200mb.json"),
    cli("1.1 GB file", "stats table1 {D}/sparse-1100mb.json", (2,), "over the 1,074 MB"),
    cli("not UTF-8", "stats table1 {D}/latin1.json", (2,), "not UTF-8"),
    cli("folder given as a file", "stats table1 {D}/a-folder.json", (2,), "is a folder"),
    cli("convert: two records of one image", "convert {D}/pathway-twice.jsonl --out {O}", (0,), "items.json"),
    cli("convert: negative limit", "convert {D}/pathway-twice.jsonl --out {O} --limit -1", (2,),
        "--limit: expected a value >= 0"),
    cli("convert: bad input file", "convert {D}/pathway-bad.jsonl --out {O}", (2,), "pathway-bad.jsonl"),
    cli("export name with ..", "data export {D}/instructions.json --to trl --out {O} --name ../../x", (2,),
        "dataset name '../../x'"),
    cli("export of a bad file", "data export {D}/wrong-types.json --to llava --out {O}", (2,), "wrong-types.json"),
    # configs
    cli("YAML: unknown key", "corrupt --config {C}/unknown-key.yaml", (2,), "unknown key(s) colour"),
    cli("YAML: wrong type", "corrupt --config {C}/wrong-type.yaml", (2,), "seed: expected an integer"),
    cli("YAML: negative value", "convert --config {C}/negative.yaml", (2,), "timeout: expected a value > 0"),
    cli("YAML: not UTF-8", "corrupt --config {C}/latin1.yaml", (2,), "not UTF-8 text"),
    cli("YAML: a list", "corrupt --config {C}/list.yaml", (2,), "expected a mapping of keys"),
    cli("YAML: broken", "corrupt --config {C}/broken.yaml", (2,), "not valid YAML"),
    cli("YAML: no such file", "corrupt --config {C}/nothing.yaml", (2,), "no such config file"),
    # models and flags
    cli("dtype int3", RATE % "cmyk.jpg" + " --dtype int3", (2,), "invalid choice: 'int3'"),
    cli("batch size 0", RATE % "cmyk.jpg" + " --batch-size 0", (2,), "--batch-size: expected a value >= 1"),
    cli("max new tokens 0", "chat --model tiny:llava --prompt hi --max-new-tokens 0", (2,),
        "--max-new-tokens: expected a value >= 1"),
    cli("rate: a folder as an image", RATE % "twins", (3,), "is a folder"),
    cli("rate: an unknown corruption", RATE % "cmyk.jpg" + " --corruption smudge", (2,), "smudge"),
    cli("rate: corrupted variants of awkward modes", "rate --model tiny:llava {I}/cmyk.jpg {I}/float.tif "
        "--corruption fog --severity 5", (0,)),
    cli("rate: awkward image modes", "rate --model tiny:llava {I}/cmyk.jpg {I}/lab.tif {I}/float.tif "
        "{I}/grey16.png {I}/palette.png", (0,), "P(good)="),
    cli("model without processor files", "chat --model {M}/no-processor --prompt hi --max-new-tokens 4", (1,),
        "cannot load"),
    cli("adapter whose base is missing", "chat --model {M}/adapter-missing-base --prompt hi", (1,),
        "no such model folder"),
    cli("adapter on the wrong base", "chat --model {M}/adapter-mismatched --prompt hi", (1,), "adapter"),
    cli("adapter config not JSON", "chat --model {M}/adapter-bad-json --prompt hi", (1,), "not valid JSON"),
    cli("no such model folder", "chat --model ./nowhere/model --prompt hi", (1,), "no such model folder"),
    cli("endpoint down", "chat --model openai:ok@{DEAD} --prompt hi", (1,), "cannot reach"),
    cli("endpoint 429", "chat --model openai:e429@{URL} --prompt hi", (1,), "429"),
    cli("endpoint 500", "chat --model openai:e500@{URL} --prompt hi", (1,), "500"),
    cli("endpoint invalid JSON", "rate --model openai:badjson@{URL} {I}/cmyk.jpg", (2,), "openai:badjson"),
    cli("endpoint refusal", "chat --model openai:refuse@{URL} --prompt hi", (1,), "refused"),
    cli("endpoint stream cut", "chat --model openai:cut@{URL} --prompt hi", (1,), "broke off"),
    cli("endpoint down while rating", "rate --model openai:ok@{DEAD} {I}/cmyk.jpg", (2,), "cannot reach"),
    # training
    cli("train: negative learning rate", "train --model tiny:llava --output-dir {O} --strategy after --low-level "
        "{D}/instructions.json --learning-rate -0.1", (2,), "--learning-rate: expected a value > 0"),
    cli("train: missing base model", "train --model {M}/gone --output-dir {O} --strategy after --low-level "
        "{D}/instructions.json --image-root {I}", (2,), "no such model folder"),
    cli("train: data that is not instructions", "train --model tiny:llava --output-dir {O} --strategy after "
        "--low-level {D}/bom.json", (2,), "is not instruction data"),
    cli("train: images not found", "train --model tiny:llava --output-dir {O} --strategy after --low-level "
        "{D}/instructions.json", (2,), "images not found"),
    cli("train: a mix without high-level data", "train --model tiny:llava --output-dir {O} --low-level "
        "{D}/instructions.json", (2,), "high_level: the mix strategy"),
    # evaluation
    cli("eval: a MOS list given as questions", "eval a1 --model tiny:llava --questions {D}/bom.json --out {O}", (2,),
        "field 'candidates'"),
    cli("eval: MOS with wrong types", "eval a3 --model tiny:llava --mos {D}/wrong-types.json --out {O}", (2,),
        "field 'img_path': expected a string"),
    cli("eval: every image missing", "eval a3 --model tiny:llava --mos {D}/bom.json --image-root {I} --out {O}", (3,),
        "5 item(s) not scored"),
    cli("eval: a judge that is down", "eval a2 --model tiny:llava --references {D}/references.json --judge "
        "openai:j@{DEAD} --out {O}", (3,), "the judge failed"),
    cli("eval: references without descriptions", "eval a2 --model tiny:llava --references {D}/bom.json --out {O}",
        (2,), "expected img_path and description"),
    cli("eval: Q-Bench outputs with a trailing comma", "eval iqa --qbench-outputs {D}/trailing-comma.json", (2,),
        "bad JSON at line 1"),
    cli("eval: votes file missing", "eval arena --votes {D}/nothere.jsonl", (2,), "no such file"),
    cli("eval: a votes file without votes", "eval arena --votes {D}/deep.json", (0,), "no blind votes"),
    cli("eval: a report of a folder without results", "eval report {D} --out {O}", (2,), "no summary.json"),
]

DEMO = "Embedded demo world"
API_CASES = [
    Api("grid: CMYK upload", "/corrupt_grid", {"image": "file:{I}/cmyk.jpg", "corruptions": ["fog"],
                                               "severities": [1], "seed": 0, "max_side": 512}, "ok", "1 cells"),
    Api("grid: float TIFF upload", "/corrupt_grid", {"image": "file:{I}/float.tif", "corruptions": ["snow"],
                                                     "severities": [2], "seed": 0, "max_side": 512}, "ok", "1 cells"),
    Api("grid: score with one side empty", "/corrupt_score", {"left": "", "right": "models/micro-mix"}, "error",
        "Choose a model on each side"),  # after the grids above: this session has one
    Api("grid: score a float TIFF's cells", "/corrupt_score", {"left": "models/micro-baseline",
        "right": "models/micro-mix"}, "ok", "P(good)"),
    Api("grid: 100 MP at original size", "/corrupt_grid", {"image": "file:{I}/hundred-mp.png", "corruptions": ["fog"],
                                                           "severities": [1], "seed": 0, "max_side": 0}, "error",
        "over the 16 MP limit"),
    Api("batch: awkward modes", "/corrupt_batch", {"files": ["file:{I}/cmyk.jpg", "file:{I}/lab.tif",
                                                             "file:{I}/float.tif", "file:{I}/grey16.png"],
                                                   "folder_text": "", "corruptions": ["fog"], "severities": [1],
                                                   "seed": 0, "random_assign": False, "workers": 1,
                                                   "name": "awkward"}, "ok", "**4 written**"),
    Api("batch: /etc", "/corrupt_batch", {"files": None, "folder_text": "/etc", "corruptions": ["fog"],
                                          "severities": [1], "seed": 0, "random_assign": False, "workers": 1,
                                          "name": "etc"}, "error", "outside the folders"),
    Api("batch: name with ..", "/corrupt_batch", {"files": ["file:{I}/cmyk.jpg"], "folder_text": "",
                                                  "corruptions": ["fog"], "severities": [1], "seed": 0,
                                                  "random_assign": False, "workers": 1, "name": "../../escape"},
        "ok", "escape"),
    Api("stats: deeply nested upload", "/stats_load", {"kind": "Files", "uploads": ["file:{D}/deep.json"],
                                                       "paths": "", "scales_text": ""}, "error", "nested too deeply"),
    Api("stats: empty upload", "/stats_load", {"kind": "Files", "uploads": ["file:{D}/empty.json"], "paths": "",
                                               "scales_text": ""}, "error", "empty file"),
    Api("stats: trailing comma", "/stats_load", {"kind": "Files", "uploads": ["file:{D}/trailing-comma.json"],
                                                 "paths": "", "scales_text": ""}, "error", "bad JSON"),
    Api("stats: a folder typed as a file", "/stats_load", {"kind": "Files", "uploads": None, "paths": "demo",
                                                           "scales_text": ""}, "error", "is a folder"),
    Api("stats: bad scale", "/stats_load", {"kind": DEMO, "uploads": None, "paths": "", "scales_text": "x=zero"},
        "error", "SOURCE=FACTOR"),
    Api("convert: not UTF-8", "/convert_load", {"kind": "A Q-Pathway file", "upload": "file:{D}/latin1.json",
                                                "path_text": ""}, "error", "not UTF-8"),
    Api("convert: dead endpoint", "/convert_preview", {"kind": DEMO, "upload": None, "path_text": "",
                                                       "feedback_id": None, "pasted": "Blurry. The quality is poor.",
                                                       "backend": "openai", "model": "ok", "base_url": "{DEAD}",
                                                       "api_key": "", "subsets": ["yes-no"]}, "error", "gave up"),
    Api("convert: export before a run", "/convert_export", {"target": "trl"}, "error", "Run a complete batch"),
    Api("chat: missing model", "/chat_send", {"left": "models/nowhere", "right": "tiny:llava", "blind": False,
                                              "image": None, "text": "Hi", "max_tokens": 16, "temperature": 0,
                                              "top_p": 1, "trust": False, "api_key": ""}, "ok",
        "no such model folder"),
    Api("chat: endpoint 500 on one side", "/chat_send", {"left": "tiny:llava", "right": "openai:e500@{URL}",
                                                         "blind": False, "image": None, "text": "Hi",
                                                         "max_tokens": 16, "temperature": 0, "top_p": 1,
                                                         "trust": False, "api_key": ""}, "ok", "500"),
    Api("chat: rating with a dead side", "/chat_rate", {"left": "tiny:llava", "right": "openai:ok@{DEAD}",
                                                        "blind": False, "image": "file:{I}/cmyk.jpg", "trust": False,
                                                        "api_key": ""}, "ok", "cannot reach"),
    Api("chat: vote before asking", "/chat_vote_tie", {}, "error", "before voting"),
    Api("tune: a run with no name", "/tune_start", {"name": "", "max_steps": 5}, "error", "give the run a name"),
    Api("tune: data outside the workspace", "/tune_start", {"name": "x", "high_level": "/etc/passwd"}, "error",
        "outside the folders"),
    Api("tune: a model outside", "/tune_start", {"name": "x", "model": "/etc"}, "error", "model folders must be"),
    Api("tune: a learning rate of zero", "/tune_start", {"name": "x", "learning_rate": 0}, "error",
        "learning_rate: expected a value > 0"),
    Api("tune: resume of an unknown run", "/tune_resume", {"run": "../../etc"}, "error", "Choose a run from the list"),
    Api("evaluate: no model", "/eval_run", {"name": "x", "models": []}, "error", "choose at least one model"),
    Api("evaluate: no protocol", "/eval_run", {"name": "x", "protocols": []}, "error", "choose A1, A2 or A3"),
    Api("evaluate: MOS outside the workspace", "/eval_run", {"name": "x", "protocols": ["A3"],
        "mos": "/etc/passwd=x"}, "error", "outside the folders"),
    Api("evaluate: a negative limit", "/eval_run", {"name": "x", "limit": -3}, "error", "less than minimum value 0"),
    Api("evaluate: a judge that is not one", "/eval_run", {"name": "x", "protocols": ["A2"], "judge": "gpt"},
        "error", "judge: expected offline or openai"),
    Api("evaluate: compare an unknown run", "/eval_compare", {"runs": ["../../etc"]}, "ok", "No results yet"),
]
