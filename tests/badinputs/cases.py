"""The cases of the bad-input corpus: every entry point, each with the clear outcome a user should get.

Placeholders: {I} images, {D} data files, {C} configs, {M} model folders, {R} damaged training runs, {WS} a
workspace with damaged status files (all under the corpus folder), {ASSETS} the shipped micro models, {O} a
fresh output folder of the case, {W} a folder shared by the cases (one run, then another on top of it), {URL}
the misbehaving endpoint (endpoint.py) on 127.0.0.1:{PORT}, {DEAD} an endpoint nobody listens on, {DOWN} another
one, {WSROOT} the studio's workspace (users/a/ and users/c/ are its two users' namespaces).  The studio lists {URL}
and {DOWN} with --allow-url (an operator's local server); {DEAD}, and {URL}'s port under any other name
(localhost, 0.0.0.0, 2130706433...), are internal addresses it must not reach for a user.

A CLI case expects one of the exit statuses and a message (and not `absent`); an API case (the running studio,
through gradio_client) expects an answer ("ok", with the message in it), a refusal ("refused": an answer holding the
tab's one "⚠ ..." line with the message, the other outputs left as they were) or an error ("error": what Gradio
itself refuses before a handler runs, such as a number below its field's minimum); `absent` must not be in its
answer (another user's file names, a secret in an endpoint's error body); an `unheard` case must send the fault
server no request.  The API cases (studio_cases.py) run in order, as one story: a's runs first, then what c tries
on them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .endpoint import SECRET  # in the body of the fault server's 403: never shown


@dataclass(frozen=True)
class Cli:
    name: str
    argv: tuple[str, ...]
    codes: tuple[int, ...]
    message: str = ""  # expected in stdout + stderr
    absent: str = ""  # must not be in stdout + stderr: an endpoint's error body, say


@dataclass(frozen=True)
class Api:
    name: str
    api_name: str
    kwargs: dict
    expect: str  # "ok", "refused" (a ⚠ line on the tab) or "error" (Gradio refuses before the tab)
    message: str = ""  # in the answer (ok) or in the error; with `then`, in the answer or the job's last view
    user: str = "a"  # the studio runs with two logins: a and c
    then: tuple[str, dict] | None = None  # a job was started: watch it with this route until it ends
    absent: str = ""  # must not be in the answer: another user's run, say
    unheard: bool = False  # the fault server ({URL}) must receive no request while the case runs


def cli(name: str, command: str, codes: tuple[int, ...], message: str = "", absent: str = "") -> Cli:
    import shlex

    return Cli(name, tuple(shlex.split(command)), codes, message, absent)


CORRUPT = "corrupt {I}/%s --out {O} --corruption fog"
RATE = "rate --model tiny:llava {I}/%s"
TRAIN = "train --model tiny:llava --strategy after --max-steps 2 --batch-size 2 --device cpu --image-root {I}"

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
    cli("NaN megapixel limit", CORRUPT % "twins" + " --max-megapixels nan", (2,),
        "expected a value > 0 and <= 10000, got nan"),
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
    cli("1.1 GB file", "stats table1 {D}/sparse-1100mb.json", (2,), "bad JSON at line 1 column 1"),
    cli("2 GB single-line JSON", "data validate {D}/single-line-2gb.json", (1,), "bad JSON at line 1 column 42"),
    cli("truncated last line", "data validate {D}/truncated.jsonl", (1,), "line 2: the file ends inside an item"),
    cli("convert: truncated last line", "convert {D}/truncated.jsonl --out {O}", (2,),
        "line 2: the file ends inside an item"),
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
    cli("eval: every image missing", "eval a3 --model tiny:llava --mos {D}/bom.json --image-root {I} --out {O}", (2,),
        "no item could be scored: tiny:llava: 5 of 5 item(s) not scored"),
    cli("eval: a judge that is down", "eval a2 --model tiny:llava --references {D}/references.json --judge "
        "openai:j@{DEAD} --out {O}", (2,), "not scored, e.g. the judge failed"),
    cli("eval: references without descriptions", "eval a2 --model tiny:llava --references {D}/bom.json --out {O}",
        (2,), "expected img_path and description"),
    cli("eval: Q-Bench outputs with a trailing comma", "eval iqa --qbench-outputs {D}/trailing-comma.json", (2,),
        "bad JSON at line 1"),
    cli("eval: votes file missing", "eval arena --votes {D}/nothere.jsonl", (2,), "no such file"),
    cli("eval: a votes file without votes", "eval arena --votes {D}/deep.json", (0,), "no blind votes"),
    cli("eval: a report of a folder without results", "eval report {D} --out {O}", (2,), "no summary.json"),
    *[cli(f"train: {what}", TRAIN + extra, (2,), message) for what, extra, message in (
        ("--output-dir is a file", " --output-dir {D}/a-file --low-level {D}/instructions.json", "exists and is not a folder"),
        ("--output-dir under a file", " --output-dir {D}/a-file/run --low-level {D}/instructions.json", "cannot be a run folder"),
        ("--output-dir in /proc", " --output-dir /proc/qinstruct-run --low-level {D}/instructions.json",
         "cannot be a run folder"),
        ("an item with no answer turn", " --output-dir {O} --low-level {D}/no-answer.json",
         "no answer (gpt) turn"),
        ("a NaN ratio", " --output-dir {O} --low-level {D}/instructions.json=nan", "RATIO from 0 to 1000"),
        ("an infinite ratio", " --output-dir {O} --low-level {D}/instructions.json=inf", "RATIO from 0 to 1000"),
        ("a negative ratio", " --output-dir {O} --low-level {D}/instructions.json=-2", "RATIO from 0 to 1000"),
        ("a cap of 0", " --output-dir {O} --low-level {D}/instructions.json@0", "CAP >= 1"),
        ("a kind ratio of NaN", " --output-dir {O} --low-level {D}/instructions.json --kind-ratios yes-no=nan",
         "kind_ratios: expected KIND=RATIO"),
        ("--lora-targets '('", " --output-dir {O} --low-level {D}/instructions.json --lora-targets (",
         "is not a regular expression"),
        ("a LoRA pattern matching nothing", " --output-dir {O} --low-level {I}/../runs/items.json "
         "--image-root {I} --lora-targets nothing_here", "matches no module of this model"),
        ("--max-length 64 on a model with 64 image tokens", " --output-dir {O} --model {ASSETS}/micro-baseline "
         "--low-level {I}/../runs/items.json --image-root {I} --max-length 64", "max_length: every example"),
        ("an openai: model", " --output-dir {O} --model openai:gpt@{URL} --low-level {D}/instructions.json",
         "is an endpoint; training needs local weights"),
        ("a 301-digit step count", " --output-dir {O} --low-level {D}/instructions.json --max-steps " + "9" * 301,
         "--max-steps: expected a value >= 0 and <= 100000000"),
        ("epochs of 1e300", " --output-dir {O} --low-level {D}/instructions.json --epochs 1e300",
         "--epochs: expected a value > 0 and <= 10000"),
        ("two machines without a launcher", " --output-dir {O} --low-level {D}/instructions.json "
         "--num-machines 2", "run through --launcher accelerate"),
        ("a negative eval item count", " --output-dir {O} --low-level {D}/instructions.json --eval-items -5",
         "--eval-items: expected a value >= 0"),
    )],
    cli("train: a changed learning rate on a finished run", "train --config {R}/source/config.yaml --learning-rate "
        "0.5", (2,), "source was started with another config (learning_rate: 0.0002 -> 0.5)"),
    cli("train: a changed data file on a finished run", "train --config {R}/source/config.yaml --low-level "
        "{D}/instructions.json", (2,), "source was started with another config (low_level:"),
    *[cli(f"train: resume over {what}", "train --config {R}/garbage-%s/config.yaml" % name, (0,), message)
      for what, name, message in (
          ("a garbage trainer_state.json", "trainer_state", "trainer_state.json is missing or damaged"),
          ("a garbage optimizer.pt", "optimizer", "optimizer.pt is damaged"),
          ("a garbage rng_state.pth", "rng_state", "rng_state.pth is damaged"),
          ("truncated adapter weights", "adapter_model", "adapter_model.safetensors is damaged"))],
    cli("eval iqa: mixed logit keys", "eval iqa --qbench-outputs {D}/qbench-mixed-keys.json", (2,),
        "the rows mix the two pairs"),
    cli("eval iqa: two rows", "eval iqa --qbench-outputs {D}/qbench-two-rows.json", (2,),
        "a correlation needs at least 3"),
    cli("eval iqa: a temperature of 0", "eval iqa --qbench-outputs {D}/qbench-joined.json --temperature 0", (2,),
        "--temperature: expected a value > 0"),
    cli("eval report: a damaged summary.json", "eval report {D}/damaged-eval --out {O}", (2,),
        "damaged-eval/summary.json: damaged"),
    cli("eval a1: --out is a file", "eval a1 --model tiny:llava --questions {D}/questions.json --out {D}/a-file",
        (2,), "exists and is not a folder"),
    cli("eval a1: --answers missing", "eval a1 --questions {D}/questions.json --answers {D}/nothere.jsonl", (2,),
        "answers: {D}/nothere.jsonl: no such file"),
    cli("eval a1: --answers of garbage", "eval a1 --questions {D}/questions.json --answers "
        "{D}/answers-garbage.jsonl", (2,), "line 1: not JSON"),
    cli("eval a1: --answers with the wrong keys", "eval a1 --questions {D}/questions.json --answers "
        "{D}/answers-wrong-keys.jsonl", (2,), 'expected {"index": N, "answer": TEXT}'),
    cli("eval a1: --answers to no such question", "eval a1 --questions {D}/questions.json --answers "
        "{D}/answers-out-of-range.jsonl", (2,), "index 99 is not a question (0 to 1)"),
    cli("eval a1: --answers to some questions", "eval a1 --questions {D}/questions.json --answers "
        "{D}/answers-partial.jsonl", (3,), "1 item(s) not scored, e.g. question 1 has no answer"),
    cli("eval a1: a run", "eval a1 --model tiny:llava --questions {D}/questions.json --protocols letter "
        "--image-root {D} --out {W}/eval-run", (0,), '"overall"'),
    cli("eval a1: the run again with other questions", "eval a1 --model tiny:llava --questions "
        "{D}/questions-other.json --protocols letter --image-root {D} --out {W}/eval-run", (2,),
        "eval-run was started with another config (questions:"),
    cli("eval a1: the run again with another model", "eval a1 --model tiny:qwen2-vl --questions "
        "{D}/questions.json --protocols letter --image-root {D} --out {W}/eval-run", (2,),
        "eval-run was started with another config (models:"),
    cli("eval a1: the run again, a larger batch", "eval a1 --model tiny:llava --questions {D}/questions.json "
        "--protocols letter --image-root {D} --out {W}/eval-run --batch-size 16", (0,), '"overall"'),
    cli("eval a2: a file:// judge", "eval a2 --model tiny:llava --references {D}/references.json --judge "
        "openai:j@file:///etc/passwd --out {O}", (2,), "must start with http:// or https://"),
    cli("eval a2: an ftp:// judge", "eval a2 --model tiny:llava --references {D}/references.json --judge "
        "openai:j@ftp://example.org/v1 --out {O}", (2,), "must start with http:// or https://"),
    cli("eval a3: a 301-digit limit", "eval a3 --model tiny:llava --mos {D}/bom.json --out {O} --limit " + "9" * 301,
        (2,), "--limit: expected a value >= 0 and <= 100000000"),
    cli("runs: no such workspace", "runs --workspace {D}/no-workspace-here", (2,), "no such workspace folder"),
    cli("runs: damaged status files", "runs --workspace {WS}", (0,), "skipped {WS}/runs/numeric-started"),
    cli("runs: a null kind", "runs --workspace {WS}", (0,), "skipped {WS}/runs/null-kind: status.json has no kind"),
    cli("runs: a list as status", "runs --workspace {WS}", (0,), "status.json is not a JSON object"),
    cli("runs: an unknown state", "runs --workspace {WS}", (0,), "unknown state 'exploded'"),
    cli("runs: the good run still listed", "runs --workspace {WS} --json", (0,), "runs/ok"),
    cli("runs: abort an unknown run", "runs abort nothing-here --workspace {WS}", (2,), "no such run under"),
    cli("runs: abort a finished run", "runs abort ok --workspace {WS}", (0,), "ok is not running (done)"),
    cli("runs: abort without a name", "runs abort --workspace {WS}", (2,), "name the run to abort"),
    cli("data export: --out is a file", "data export {D}/instructions.json --to trl --out {D}/a-file", (2,),
        "exists and is not a folder"),
    cli("data validate: an item with no answer", "data validate {D}/no-answer.json", (1,), "no answer (gpt) turn"),
    cli("demo world: --out is a file", "demo world --out {D}/a-file --images 10", (2,), "exists and is not a folder"),
    cli("convert: --prices missing", "convert {D}/pathway-twice.jsonl --out {O} --prices {D}/no-prices.yaml", (2,),
        "no-prices.yaml: no such config file"),
    cli("convert: --prices a YAML list", "convert {D}/pathway-twice.jsonl --out {O} --prices {D}/prices-list.yaml",
        (2,), "expected a mapping of keys, got list"),
    cli("convert: --prices with a bad entry", "convert {D}/pathway-twice.jsonl --out {O} --prices "
        "{D}/prices-bad.yaml", (2,), "gpt-4o-mini: expected {input: USD per 1M tokens"),
    cli("convert: --out under a file", "convert {D}/pathway-twice.jsonl --out {D}/a-file/conv", (2,),
        "cannot be a run folder"),
    cli("convert: a timeout of a day", "convert {D}/pathway-twice.jsonl --out {O} --timeout 86400", (2,),
        "--timeout: expected a value > 0 and <= 3600"),
    cli("convert: a file:// endpoint", "convert {D}/pathway-twice.jsonl --out {O} --backend openai --base-url "
        "file:///etc/passwd", (2,), "must start with http:// or https://"),
    cli("corrupt: a batch with byte-damaged TIFFs", CORRUPT % "tiff-batch", (3,), "wrote 2 image"),
    cli("corrupt: a TIFF with a damaged tag type", CORRUPT % "tiff-tag-type.tif", (2,), "unreadable image data"),
    cli("corrupt: a TIFF with damaged dimensions", CORRUPT % "tiff-dimensions.tif", (2,), "unreadable image data"),
    cli("corrupt: a TIFF with damaged offsets", CORRUPT % "tiff-offsets.tif", (2,), "tiff-offsets.tif"),
    cli("corrupt: a zTXt bomb", CORRUPT % "ztxt-bomb.png", (2,), "ztxt-bomb.png"),
    cli("corrupt: --out is a file", "corrupt {I}/twins --out {D}/a-file --corruption fog", (2,),
        "exists and is not a folder"),
    cli("corrupt: 1e9 megapixels", CORRUPT % "twins" + " --max-megapixels 1e9", (2,),
        "--max-megapixels: expected a value > 0 and <= 10000"),
    cli("rate: a damaged TIFF", RATE % "tiff-tag-type.tif", (3,), "unreadable image data"),
    cli("rate: a seed of -1", RATE % "cmyk.jpg" + " --corruption fog --seed -1", (2,), "--seed: expected a value"),
    cli("chat: a damaged TIFF", "chat --model tiny:llava --prompt hi --image {I}/tiff-dimensions.tif", (2,),
        "unreadable image data"),
    cli("chat: a file:// endpoint", "chat --model openai:m@file:///etc/passwd --prompt hi", (1,),
        "must start with http:// or https://"),
    cli("rate: an ftp:// endpoint", "rate --model openai:m@ftp://example.org {I}/cmyk.jpg", (2,),
        "must start with http:// or https://"),
]

# what other fixes made of bad inputs at the command line: a finished training run again, an evaluation that
# scored nothing, training without evaluation, a workspace that links back to itself, the scorer's flags, a
# LLaVA-style LoRA release whose non_lora_trainables.bin is not a state dict, endpoints that answer oddly
CLI_CASES += [
    cli("train: a finished run started again", "train --config {R}/source/config.yaml", (2,),
        "source is done (its model is in {R}/source/model); start a new run under another name"),
    cli("train: no evaluation although --eval-steps 40", TRAIN + " --output-dir {O} --low-level {R}/items.json "
        "--eval-items 0 --eval-fraction 0 --eval-steps 40", (0,), "24 training and 0 held-out items",
        absent="eval loss"),
    cli("eval a1: an image root that does not exist", "eval a1 --model tiny:llava --questions {D}/questions.json "
        "--protocols letter --image-root {D}/no-such-root --out {O}", (2,),
        "no item could be scored: tiny:llava: 2 of 2 item(s) not scored, e.g. {D}/no-such-root/../images/cmyk.jpg: "
        "no such file"),
    cli("eval a2: a judge answering 403 with a secret in its body", "eval a2 --model tiny:llava --references "
        "{D}/references.json --judge openai:e403@{URL} --out {O}", (2,),
        "no item could be scored: tiny:llava: 1 of 1 item(s) not scored, e.g. the judge failed (HTTP 403", SECRET),
    cli("runs: a workspace that links back to itself", "runs --workspace {WS}-loops", (0,),
        "ok: done (started 2026-12-02T10:00:00)  [{WS}-loops/runs/ok]"),
    cli("runs: a workspace that links back to itself, each run once", "runs --workspace {WS}-loops --json", (0,),
        '[{"path": "{WS}-loops/runs/ok"', absent='}, {"path"'),
    cli("runs: abort in a workspace that links back to itself", "runs abort ok --workspace {WS}-loops", (0,),
        "ok is not running (done)"),
    *[cli(f"rate: {what}", RATE % "cmyk.jpg" + " " + flags, (2,), message) for what, flags, message in (
        ("a batch size of -1", "--batch-size -1", "--batch-size: expected a value >= 1 and <= 4096, got -1"),
        ("a batch size of 4097", "--batch-size 4097", "--batch-size: expected a value >= 1 and <= 4096, got 4097"),
        ("a batch size of 1e9", "--batch-size 1e9", "argument --batch-size: invalid int value: '1e9'"),
        ("dtype float8", "--dtype float8", "argument --dtype: invalid choice: 'float8'"),
        ("an empty dtype", "--dtype ''", "argument --dtype: invalid choice: ''"),
        ("device tpu", "--device tpu", "device: expected cuda, cuda:N, cpu or mps, got 'tpu'"),
        ("a megapixel limit of 0", "--max-megapixels 0", "--max-megapixels: expected a value > 0 and <= 10000"),
    )],
    *[cli(f"rate: a non_lora_trainables.bin of {what}", "rate --model {M}/non-lora-%s {I}/cmyk.jpg" % name, (2,),
          message) for what, name, message in (
        ("a pickled list", "list", "non_lora_trainables.bin: not a state dict of tensors (name -> tensor): it holds "
         "list, not a dict"),
        ("garbage bytes", "garbage", "non_lora_trainables.bin: not a readable state dict of tensors"),
        ("a pickle that runs code", "code", "it pickles Python objects a weights-only load refuses (nothing in it "
         "was run)"),
        ("a tensor of a broadcastable shape", "shape", "model.multi_modal_projector.linear_1.bias is (1,), the "
         "base's is (64,)"),
    )],
    cli("non_lora_trainables.bin: the pickle's code never ran", "stats table1 {M}/non-lora-code-ran", (2,),
        "non-lora-code-ran: no such file"),
    cli("chat: a non_lora_trainables.bin of a pickled list", "chat --model {M}/non-lora-list --prompt hi", (1,),
        "it holds list, not a dict"),
    cli("chat: an endpoint answering 403 with a secret in its body", "chat --model openai:e403@{URL} --prompt hi",
        (1,), "the endpoint answered HTTP 403", SECRET),
    cli("rate: an endpoint answering 403", "rate --model openai:e403@{URL} {I}/cmyk.jpg", (2,), "(Forbidden)",
        SECRET),
    cli("convert: an endpoint answering 403", "convert {D}/pathway-twice.jsonl --out {O} --backend openai --model "
        "e403 --base-url {URL}", (1,), "HTTP 403: the endpoint refused the API key", SECRET),
    cli("chat: an endpoint answering JSON that is not a chat completion", "chat --model openai:notchat@{URL} "
        "--prompt hi", (1,), "the endpoint answered, but not with a chat completion stream"),
    cli("convert: an endpoint answering JSON that is not a chat completion", "convert {D}/pathway-twice.jsonl --out "
        "{O} --backend openai --model notchat --base-url {URL}", (1,),
        "the endpoint answered, but not with a chat completion"),
]
