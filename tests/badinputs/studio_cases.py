"""The studio's cases of the bad-input corpus (cases.py says how a case reads, and its placeholders): a running
studio with two logins, driven through gradio_client, one story in order -- a's runs first, then what c tries on
them -- from every tab's boxes, with the users-apart, internal-URL and queue groups at the end."""
from __future__ import annotations

from .cases import Api
from .endpoint import SECRET  # in the body of the fault server's 403: never shown

DEMO = "Embedded demo world"
BAD_UPLOADS = [("an empty file", "empty.png", "empty file (0 bytes)"),
               ("an HTML page", "page.html.png", "not an image file we read"),
               ("text called .jpg", "text.jpg", "not an image file we read"),
               ("a header claiming 900 MP", "bomb.png", "refused as a decompression bomb"),
               ("a zTXt bomb", "ztxt-bomb.png", "unreadable image data"),
               ("a TIFF with a damaged tag", "tiff-tag-type.tif", "unreadable image data"),
               ("an XPM drawing", "drawing.xpm", "not an image file we read"),
               ("a fuzzed QOI", "fuzzed.qoi", "not an image file we read"),
               ("a JSON file called .png", "data.png", "not an image file we read")]
PRIVATE = ["chat", ".secrets", ".jobs", "chat/sessions", "convert/.cache", "demo/../chat"]
CHAT = {"left": "tiny:llava", "right": "tiny:llava", "blind": False, "image": None, "text": "Hi", "max_tokens": 8,
        "temperature": 0, "top_p": 1, "trust": False, "api_key": ""}
BATCH = {"files": None, "folder_text": "", "corruptions": ["fog"], "severities": [1], "seed": 0,
         "random_assign": False, "workers": 1, "name": "private"}
CONVERT = {"kind": DEMO, "upload": None, "path_text": "", "backend": "offline", "model": "gpt-4o-mini",
           "base_url": "", "api_key": "", "subsets": ["yes-no"], "concurrency": 1, "name": "x"}
EVAL = {"name": "x", "models": ["tiny:llava"], "protocols": ["A1"],
        "a1_questions": "demo/world/eval/llvisionqa.json", "a3_mos": "demo/world/eval/mos.json=demo", "a2_references": "demo/world", "image_root": "demo/world",
        "a2_judge": "offline", "limit": 2}
GRADIO_REFUSES = ("less than minimum value", "greater than maximum value")  # a number field's own bounds


def refused_by(message: str) -> str:
    """"error" where Gradio refuses the value before a handler runs, "refused" where the tab says why."""
    return "error" if message.startswith(GRADIO_REFUSES) else "refused"


TUNE = {"model": "models/micro-baseline", "strategy": "baseline", "high_level": "demo/world/instruct_content.json",
        "low_level": "", "image_root": "demo/world", "max_steps": 2, "save_steps": 2, "eval_steps": 0,
        "eval_items": 8, "batch_size": 2}
API_CASES = [
    Api("grid: CMYK upload", "/corrupt_grid", {"image": "file:{I}/cmyk.jpg", "corruptions": ["fog"],
                                               "severities": [1], "seed": 0, "max_side": 512}, "ok", "1 cells"),
    Api("grid: float TIFF upload", "/corrupt_grid", {"image": "file:{I}/float.tif", "corruptions": ["snow"],
                                                     "severities": [2], "seed": 0, "max_side": 512}, "ok", "1 cells"),
    Api("grid: score with one side empty", "/corrupt_score", {"left": "", "right": "models/micro-mix"}, "refused",
        "Choose a model on each side"),  # after the grids above: this session has one
    Api("grid: score a float TIFF's cells", "/corrupt_score", {"left": "models/micro-baseline",
        "right": "models/micro-mix"}, "ok", "P(good)"),
    Api("grid: 100 MP at original size", "/corrupt_grid", {"image": "file:{I}/hundred-mp.png", "corruptions": ["fog"],
                                                           "severities": [1], "seed": 0, "max_side": 0}, "error",
        "100.0 megapixels"),
    Api("batch: awkward modes", "/corrupt_batch", {"files": ["file:{I}/cmyk.jpg", "file:{I}/lab.tif",
                                                             "file:{I}/float.tif", "file:{I}/grey16.png"],
                                                   "folder_text": "", "corruptions": ["fog"], "severities": [1],
                                                   "seed": 0, "random_assign": False, "workers": 1,
                                                   "name": "awkward"}, "ok", "**4 written**",
        then=("/corrupt_batch_watch", {"batch": "awkward"})),
    Api("batch: /etc", "/corrupt_batch", {"files": None, "folder_text": "/etc", "corruptions": ["fog"],
                                          "severities": [1], "seed": 0, "random_assign": False, "workers": 1,
                                          "name": "etc"}, "refused", "outside the folders"),
    Api("batch: name with ..", "/corrupt_batch", {"files": ["file:{I}/cmyk.jpg"], "folder_text": "",
                                                  "corruptions": ["fog"], "severities": [1], "seed": 0,
                                                  "random_assign": False, "workers": 1, "name": "../../escape"},
        "ok", "escape"),
    Api("stats: deeply nested upload", "/stats_load", {"kind": "Files", "uploads": ["file:{D}/deep.json"],
                                                       "paths": "", "scales_text": ""}, "refused", "nested too deeply"),
    Api("stats: empty upload", "/stats_load", {"kind": "Files", "uploads": ["file:{D}/empty.json"], "paths": "",
                                               "scales_text": ""}, "refused", "empty file"),
    Api("stats: trailing comma", "/stats_load", {"kind": "Files", "uploads": ["file:{D}/trailing-comma.json"],
                                                 "paths": "", "scales_text": ""}, "refused", "bad JSON"),
    Api("stats: a folder typed as a file", "/stats_load", {"kind": "Files", "uploads": None, "paths": "demo",
                                                           "scales_text": ""}, "refused", "is a folder"),
    Api("stats: bad scale", "/stats_load", {"kind": DEMO, "uploads": None, "paths": "", "scales_text": "x=zero"},
        "refused", "SOURCE=FACTOR"),
    Api("convert: not UTF-8", "/convert_load", {"kind": "A Q-Pathway file", "upload": "file:{D}/latin1.json",
                                                "path_text": ""}, "refused", "not UTF-8"),
    Api("convert: dead endpoint", "/convert_preview", {"kind": DEMO, "upload": None, "path_text": "",
                                                       "feedback_id": None, "pasted": "Blurry. The quality is poor.",
                                                       "backend": "openai", "model": "ok", "base_url": "{DOWN}",
                                                       "api_key": "", "subsets": ["yes-no"]}, "ok",
        "Not converted:** gave up"),
    Api("convert: export before a run", "/convert_export", {"target": "trl"}, "refused", "Run a complete batch"),
    Api("chat: missing model", "/chat_send", {"left": "models/nowhere", "right": "tiny:llava", "blind": False,
                                              "image": None, "text": "Hi", "max_tokens": 16, "temperature": 0,
                                              "top_p": 1, "trust": False, "api_key": ""}, "ok",
        "no such model folder"),
    Api("chat: endpoint 500 on one side", "/chat_send", {"left": "tiny:llava", "right": "openai:e500@{URL}",
                                                         "blind": False, "image": None, "text": "Hi",
                                                         "max_tokens": 16, "temperature": 0, "top_p": 1,
                                                         "trust": False, "api_key": ""}, "ok", "500"),
    Api("chat: rating with a dead side", "/chat_rate", {"left": "tiny:llava", "right": "openai:ok@{DOWN}",
                                                        "blind": False, "image": "file:{I}/cmyk.jpg", "trust": False,
                                                        "api_key": ""}, "ok", "cannot reach"),
    Api("chat: vote before asking", "/chat_vote_tie", {}, "refused", "before voting"),
    Api("tune: a run with no name", "/tune_start", {"name": "", "max_steps": 5}, "refused", "give the run a name"),
    Api("tune: data outside the workspace", "/tune_start", {"name": "x", "high_level": "/etc/passwd"}, "refused",
        "outside the folders"),
    Api("tune: a model outside", "/tune_start", {"name": "x", "model": "/etc"}, "refused", "model folders must be"),
    Api("tune: a learning rate of zero", "/tune_start", {"name": "x", "learning_rate": 0,
                                                         "low_level": "demo/world/instruct_content.json"}, "refused",
        "learning_rate: expected a value > 0"),
    Api("tune: resume of an unknown run", "/tune_resume", {"run": "../../etc"}, "refused", "Choose one of your runs"),
    Api("evaluate: no model", "/eval_run", {"name": "x", "models": []}, "refused", "choose at least one model"),
    Api("evaluate: no protocol", "/eval_run", {"name": "x", "protocols": []}, "refused", "protocols: choose A1, A2, A3"),
    Api("evaluate: MOS outside the workspace", "/eval_run", {"name": "x", "protocols": ["A3"],
        "a3_mos": "/etc/passwd=x"}, "refused", "outside the folders"),
    Api("evaluate: a negative limit", "/eval_run", {"name": "x", "limit": -3}, "error", "less than minimum value 0"),
    Api("evaluate: a judge that is not one", "/eval_run", {"name": "x", "protocols": ["A2"], "a2_judge": "gpt"},
        "refused", "judge: expected offline or openai"),
    Api("evaluate: compare an unknown run", "/eval_compare", {"runs": ["../../etc"]}, "ok", "No results yet"),
    *[Api(f"grid: upload of {what}", "/corrupt_grid", {"image": f"file:{{I}}/{name}", "corruptions": ["fog"],
                                                       "severities": [1], "seed": 0, "max_side": 512}, "error",
          f"{name}: {message}") for what, name, message in BAD_UPLOADS],
    *[Api(f"chat: upload of {what}", "/chat_send", {**CHAT, "image": f"file:{{I}}/{name}"}, "error",
          f"{name}: {message}") for what, name, message in BAD_UPLOADS[:6]],
    Api("chat: rating a damaged TIFF", "/chat_rate", {"left": "tiny:llava", "right": "tiny:llava", "blind": False,
                                                     "image": "file:{I}/tiff-dimensions.tif", "trust": False,
                                                     "api_key": ""}, "error", "unreadable image data"),
    Api("chat: rating an HTML page", "/chat_rate", {"left": "tiny:llava", "right": "tiny:llava", "blind": False,
                                                   "image": "file:{I}/page.html.png", "trust": False,
                                                   "api_key": ""}, "error", "not an image file we read"),
    Api("chat: a file:// endpoint", "/chat_send", {**CHAT, "right": "openai:m@file:///etc/passwd"}, "ok",
        "must start with http:// or https://"),
    Api("batch: a data file called .png", "/corrupt_batch", {**BATCH, "files": ["file:{I}/data.png",
                                                                                "file:{I}/really-png.jpg"],
                                                             "name": "sniffed"}, "ok",
        "data.png: not an image file (not copied)", then=("/corrupt_batch_watch", {"batch": "sniffed"})),
    Api("batch: PNG data under a JPEG name is kept as PNG", "/corrupt_batch_watch", {"batch": "sniffed"}, "ok",
        "**1 written**"),
    *[Api(f"batch: the private folder {folder}", "/corrupt_batch", {**BATCH, "folder_text": folder}, "refused",
          "outside the folders") for folder in PRIVATE],
    Api("batch: a folder with byte-damaged TIFFs", "/corrupt_batch", {**BATCH, "folder_text": "{I}/tiff-batch",
                                                                      "name": "tiffs"}, "ok", "**2 written**",
        then=("/corrupt_batch_watch", {"batch": "tiffs"})),
    Api("batch: the damaged TIFFs are named", "/corrupt_batch_watch", {"batch": "tiffs"}, "ok",
        "tiff-tag-type.tif: unreadable image data"),
    Api("batch: stop, declined", "/corrupt_batch_stop", {"confirmed": ""}, "ok", "Not stopped."),
    Api("batch: stop with nothing of mine running", "/corrupt_batch_stop", {"confirmed": "yes"}, "ok",
        "No batch of yours", user="c"),
    Api("batch: another user's batch is not theirs to watch", "/corrupt_batch_watch", {"batch": "tiffs"}, "ok",
        user="c", absent="written"),
    *[Api(f"stats: a file in {folder}", "/stats_load", {"kind": "Files", "uploads": None,
                                                        "paths": f"{folder}/log.jsonl", "scales_text": ""}, "refused",
          "outside the folders") for folder in PRIVATE[:3]],
    *[Api(f"convert: a file in {folder}", "/convert_load", {"kind": "A Q-Pathway file", "upload": None,
                                                            "path_text": f"{folder}/log.jsonl"}, "refused",
          "outside the folders") for folder in PRIVATE[:2]],
    Api("convert: an ftp:// endpoint", "/convert_run", {**CONVERT, "backend": "openai", "base_url": "ftp://host/v1",
                                                        "name": "file-url"}, "refused",
        "must start with http:// or https://"),
    Api("convert: a run of mine", "/convert_run", {**CONVERT, "name": "shared-conv", "concurrency": 4}, "ok",
        "shared-conv started", then=("/convert_watch", {"batch": "shared-conv"})),
    Api("convert: stop with nothing of mine running", "/convert_stop", {"confirmed": "yes"}, "ok",
        "No conversion of yours", user="c"),
    Api("convert: export of another user's run", "/convert_export", {"target": "trl"}, "refused",
        "Run a complete batch first", user="c"),
    Api("convert: another user's run name is mine to use", "/convert_run", {**CONVERT, "name": "shared-conv",
                                                                             "limit": 2}, "ok",
        "--out users/c/convert/shared-conv", user="c", absent="users/a/",
        then=("/convert_watch", {"batch": "shared-conv"})),
    Api("convert: my run of that name is mine", "/convert_watch", {"batch": "shared-conv"}, "ok",
        "6 items from 2 feedbacks", user="c"),
    Api("convert: and the other user's stays theirs", "/convert_watch", {"batch": "shared-conv"}, "ok",
        "shared-conv**: done", absent="from 2 feedbacks"),
    Api("evaluate: an image root in .secrets", "/eval_run", {**EVAL, "image_root": ".secrets"}, "refused",
        "outside the folders"),
    Api("evaluate: questions in chat/", "/eval_run", {**EVAL, "a1_questions": "chat/log.jsonl"}, "refused",
        "outside the folders"),
    Api("evaluate: a MOS list in .jobs/", "/eval_run", {**EVAL, "protocols": ["A3"], "a3_mos": ".jobs/queue=x"},
        "refused", "outside the folders"),
    Api("evaluate: a file:// judge", "/eval_run", {**EVAL, "protocols": ["A2"],
                                                   "a2_judge": "openai:j@file:///etc/passwd"}, "refused",
        "must start with http:// or https://"),
    Api("evaluate: a 301-digit limit", "/eval_run", {**EVAL, "limit": 1e300}, "error",
        "greater than maximum value 100000000"),
    Api("evaluate: image paths in a questions file that escape", "/eval_run",
        {**EVAL, "name": "escape", "a1_questions": "{D}/questions-outside.json", "image_root": ""}, "ok",
        "outside the folders this studio may read", then=("/eval_watch", {"runs": ["escape-a1"]})),
    Api("evaluate: a run of mine", "/eval_run", {**EVAL, "name": "mine", "protocols": ["A3"]}, "ok", "mine-a3",
        then=("/eval_watch", {"runs": ["mine-a3"]})),
    Api("evaluate: another user's run is not theirs to watch", "/eval_watch", {"runs": ["mine-a3"]}, "ok",
        user="c", absent="mine-a3"),
    Api("evaluate: nor to compare", "/eval_compare", {"runs": ["mine-a3"]}, "ok", "No results yet", user="c",
        absent="SRCC"),
    Api("evaluate: nor to export", "/eval_export", {"runs": ["mine-a3"]}, "ok", "Choose the runs", user="c"),
    Api("evaluate: nor is it in their activity", "/eval_activity", {}, "ok", user="c", absent="mine"),
    Api("evaluate: stop with nothing of mine running", "/eval_stop", {"confirmed": "yes"}, "ok",
        "Nothing of yours is running here", user="c"),
    Api("evaluate: another user's run name is mine to use", "/eval_run", {**EVAL, "name": "mine", "protocols": ["A3"],
                                                                         "limit": 1}, "ok",
        "--out users/c/evals/mine-a3", user="c", absent="users/a/", then=("/eval_watch", {"runs": ["mine-a3"]})),
    Api("evaluate: my run of that name is mine", "/eval_watch", {"runs": ["mine-a3"]}, "ok",
        "step 1 / 1", user="c"),
    Api("evaluate: and the other user's stays theirs", "/eval_watch", {"runs": ["mine-a3"]}, "ok",
        "step 2 / 2", absent="step 1 / 1"),
    Api("evaluate: stop, declined", "/eval_stop", {"confirmed": ""}, "ok", "Not stopped."),
    Api("tune: a run of mine", "/tune_start", {**TUNE, "name": "theirs"}, "ok", "theirs started",
        then=("/tune_watch", {"run": "theirs"})),
    *[Api(f"tune: {what} another user's run", api, {"run": "theirs"}, expect, "Choose one of your runs",
          user="c") for what, api, expect in (("resume", "/tune_resume", "refused"), ("abort", "/tune_abort", "refused"),
                                              ("open in chat", "/tune_open_in_chat", "error"))],  # no status line
    Api("tune: watch another user's run", "/tune_watch", {"run": "theirs"}, "ok", user="c", absent="theirs**"),
    Api("tune: abort, declined", "/tune_abort", {"run": ""}, "ok", "Not aborted."),
    Api("tune: a finished run started again", "/tune_start", {**TUNE, "name": "theirs"}, "refused", "is done"),
    Api("tune: max_length shorter than the image tokens", "/tune_start", {**TUNE, "name": "short", "max_length": 64},
        "ok", "max_length: every example is longer than 64 tokens", then=("/tune_watch", {"run": "short"})),
    *[Api(f"tune: {what}", "/tune_start", {**TUNE, "name": "bad", **change}, refused_by(message), message)
      for what, change, message in (
          ("an endpoint as the model", {"model": "openai:m@{URL}"}, "is an endpoint; training needs local weights"),
          ("a 301-digit step count", {"max_steps": 1e300}, "greater than maximum value 100000000"),
          ("epochs of 1e300", {"epochs": 1e300}, "greater than maximum value 10000"),
          ("a negative eval item count", {"eval_items": -5}, "less than minimum value 0"),
          ("two machines from a browser", {"launcher": "accelerate", "num_machines": 2,
                                           "main_process_ip": "10.0.0.1"}, "runs over several machines"),
          ("a remote rank-0 address from a browser", {"launcher": "accelerate", "main_process_ip": "203.0.113.9"},
           "runs over several machines"),
          ("--lora-targets '('", {"lora_targets": "("}, "is not a regular expression"),
          ("a NaN ratio", {"high_level": "demo/world/instruct_content.json=nan"}, "RATIO from 0 to 1000"),
          ("data in .secrets", {"high_level": ".secrets/browser-state"}, "outside the folders"),
          ("an image root in chat/", {"image_root": "chat"}, "outside the folders"),
          ("a data file that does not exist", {"high_level": "demo/world/none.json"}, "no such file in the workspace"),
      )],
]

# ---------------------------------------------------------------------------------------------- users apart
# User c, from every box, on what user a's cases above made: a's tuned model (runs/theirs/model), a's conversion
# (convert/shared-conv/items.json), a's uploaded batch folder (uploads/sniffed), a's evaluation (evals/mine-a3),
# typed relative to c's own folder (../a/...), through a shared prefix (demo/.., models/..) or absolute
# ({WSROOT}/users/a/...).  Each is refused, and nothing of a's is in the answer: a's item ids, a's file names,
# a's model card, a's scores.
A = {"items": "../a/convert/shared-conv/items.json", "items_abs": "{WSROOT}/users/a/convert/shared-conv/items.json",
     "upload": "../a/uploads/sniffed", "upload_abs": "{WSROOT}/users/a/uploads/sniffed",
     "model": "../a/runs/theirs/model", "model_abs": "{WSROOT}/users/a/runs/theirs/model",
     "summary": "../a/evals/mine-a3/summary.json", "scores_abs": "{WSROOT}/users/a/evals/mine-a3/items.jsonl"}
LEAK = {"items": "demo-000000", "upload": "really-png", "model": "theirs (baseline", "summary": "srcc",
        "scores": "srcc"}  # what a's answer would show: a's item ids, a's image, a's model card, a's scores
OUTSIDE = "outside the folders this studio may read"
NO_MODEL = "no such model folder here"


def leak(key: str) -> str:
    return LEAK[key.removesuffix("_abs")]


FILE_PATHS = [("../a/", "items"), ("an absolute path into", "items_abs"), ("../a/", "summary")]
API_CASES += [
    *[Api(f"users apart, stats: {how} a's {key.removesuffix('_abs')}", "/stats_load",
          {"kind": "Files", "uploads": None, "paths": A[key], "scales_text": ""}, "refused", OUTSIDE, user="c",
          absent=leak(key)) for how, key in FILE_PATHS],
    Api("users apart, stats: a's items through demo/..", "/stats_load",
        {"kind": "Files", "uploads": None, "paths": "demo/../users/a/convert/shared-conv/items.json",
         "scales_text": ""}, "refused", OUTSIDE, user="c", absent=leak("items")),
    Api("users apart, stats: a's items through models/..", "/stats_load",
        {"kind": "Files", "uploads": None, "paths": "models/../users/a/convert/shared-conv/items.json",
         "scales_text": ""}, "refused", OUTSIDE, user="c", absent=leak("items")),
    *[Api(f"users apart, convert load: {how} a's {key.removesuffix('_abs')}", "/convert_load",
          {"kind": "A Q-Pathway file", "upload": None, "path_text": A[key]}, "refused", OUTSIDE, user="c",
          absent=leak(key)) for how, key in FILE_PATHS[:2]],
    *[Api(f"users apart, convert run: {how} a's items", "/convert_run",
          {**CONVERT, "kind": "A Q-Pathway file", "path_text": path, "name": "steal"}, "refused", OUTSIDE, user="c",
          absent=leak("items")) for how, path in (("../a/", A["items"]), ("an absolute path into", A["items_abs"]),
                                                  ("demo/../../a/", "demo/../../a/convert/shared-conv/items.json"))],
    Api("users apart, convert run: users/a/ typed by c is c's own folder (nothing there)", "/convert_run",
        {**CONVERT, "kind": "A Q-Pathway file", "path_text": "users/a/convert/shared-conv/items.json",
         "name": "steal"}, "refused", "items.json: no such feedback file", user="c", absent="{WSROOT}"),
    Api("users apart, convert preview: a's items", "/convert_preview",
        {"kind": "A Q-Pathway file", "upload": None, "path_text": A["items_abs"], "feedback_id": None, "pasted": "",
         "backend": "offline", "model": "x", "base_url": "", "api_key": "", "subsets": ["yes-no"]}, "refused",
        OUTSIDE, user="c", absent=leak("items")),
    *[Api(f"users apart, batch: {how} a's upload folder", "/corrupt_batch",
          {**BATCH, "folder_text": folder, "name": "steal"}, "refused", OUTSIDE, user="c", absent="really-png")
      for how, folder in (("../a/", A["upload"]), ("an absolute path into", A["upload_abs"]),
                          ("demo/../users/a/", "demo/../users/a/uploads/sniffed"),
                          ("../a/ (its output)", "../a/corrupt/batches/sniffed"))],
    *[Api(f"users apart, tune: {field} {how} a's {key.removesuffix('_abs')}", "/tune_start",
          {**TUNE, "name": "steal", field: A[key]}, "refused", OUTSIDE, user="c", absent=leak(key))
      for field, how, key in (("high_level", "../a/", "items"), ("high_level", "an absolute path into", "items_abs"),
                              ("low_level", "../a/", "items"), ("image_root", "../a/", "upload"),
                              ("image_root", "an absolute path into", "upload_abs"))],
    *[Api(f"users apart, tune: model {how}", "/tune_start", {**TUNE, "name": "steal", "model": spec}, "refused",
          f"{spec}: {NO_MODEL}", user="c", absent=leak("model"))
      for how, spec in (("../a/ (a's tuned model)", A["model"]),
                        ("an absolute path to a's tuned model", A["model_abs"]),
                        ("../a/ to a model that never was (the same sentence)", "../a/runs/never-was/model"),
                        ("runs/theirs/model: a's run name in c's runs/", "runs/theirs/model"))],
    *[Api(f"users apart, evaluate: {field} {how} a's {key.removesuffix('_abs')}", "/eval_run",
          {**EVAL, "name": "steal", "protocols": [protocol], field: A[key] + suffix}, "refused", OUTSIDE, user="c",
          absent=leak(key))
      for field, protocol, how, key, suffix in (
          ("a1_questions", "A1", "../a/", "items", ""),
          ("a1_questions", "A1", "an absolute path into", "items_abs", ""),
          ("a3_mos", "A3", "../a/", "summary", "=x"), ("a3_mos", "A3", "an absolute path into", "scores_abs", "=x"),
          ("a2_references", "A2", "../a/", "upload", ""), ("image_root", "A1", "../a/", "upload", ""),
          ("image_root", "A1", "an absolute path into", "upload_abs", ""))],
    *[Api(f"users apart, evaluate: a model {how}", "/eval_run", {**EVAL, "name": "steal", "models": [spec]},
          "refused", f"{spec}: {NO_MODEL}", user="c", absent=leak("model"))
      for how, spec in (("../a/", A["model"]), ("an absolute path to a's", A["model_abs"]))],
    *[Api(f"users apart, chat: the {side} side on {how}", "/chat_send", {**CHAT, side: spec}, "ok",
          f"{spec}: {NO_MODEL}", user="c", absent=leak("model"))
      for side, how, spec in (("left", "../a/", A["model"]), ("right", "../a/", A["model"]),
                              ("left", "an absolute path to a's model", A["model_abs"]),
                              ("right", "an absolute path to a's model", A["model_abs"]),
                              ("right", "models/../users/a/", "models/../users/a/runs/theirs/model"),
                              ("left", "runs/theirs/model (a's run name)", "runs/theirs/model"))],
    Api("users apart, chat: a's own model answers a", "/chat_send",  # a micro model: it answers about an image
        {**CHAT, "right": "runs/theirs/model", "image": "file:{I}/cmyk.jpg"}, "ok", "theirs (baseline"),
    Api("chat: a micro model asked with no image", "/chat_send", {**CHAT, "right": "runs/theirs/model"}, "refused",
        "this question has no image, and the micro demo models answer about images only"),
    Api("users apart, chat: rating with a's model", "/chat_rate", {"left": A["model"], "right": "tiny:llava",
                                                                    "blind": False, "image": "file:{I}/cmyk.jpg",
                                                                    "trust": False, "api_key": ""}, "ok",
        f"{A['model']}: {NO_MODEL}", user="c", absent=leak("model")),
    Api("users apart, grid: one of c's own", "/corrupt_grid", {"image": "file:{I}/cmyk.jpg", "corruptions": ["fog"],
                                                              "severities": [1], "seed": 0, "max_side": 512}, "ok",
        "1 cells", user="c"),
    *[Api(f"users apart, grid: scored with {how}", "/corrupt_score", {"left": spec, "right": "tiny:llava"},
          "refused", f"{spec}: {NO_MODEL}", user="c", absent=leak("model"))
      for how, spec in (("a's model (../a/)", A["model"]), ("a's model (absolute)", A["model_abs"]))],
    *[Api(f"users apart, {tab}: watching a's run by its path", api, kwargs, "ok", user="c", absent=absent)
      for tab, api, kwargs, absent in (
          ("evaluate", "/eval_watch", {"runs": ["../a/evals/mine-a3"]}, "step 2 / 2"),
          ("evaluate compare", "/eval_compare", {"runs": ["../a/evals/mine-a3"]}, "SRCC"),
          ("convert", "/convert_watch", {"batch": "../a/convert/shared-conv"}, "feedbacks"),
          ("batch", "/corrupt_batch_watch", {"batch": "../a/corrupt/batches/sniffed"}, "written"),
          ("tune", "/tune_watch", {"run": "../a/runs/theirs"}, "step 2 / 2"))],
    Api("users apart, tune: resume a's run by its path", "/tune_resume", {"run": "../a/runs/theirs"}, "refused",
        "Choose one of your runs", user="c"),
]

# ---------------------------------------------------------------------------------------------- internal URLs
# A URL a browser user types makes the *server* connect: to public addresses only, unless the operator listed
# it.  {URL}'s own port under other names (localhost, 0.0.0.0, 2130706433...) must not reach the fault server.
GUARD = "the studio reaches such addresses only when its operator lists the URL (--endpoint or --allow-url)"
INTERNAL = [("a dead loopback port", "{DEAD}", "127.0.0.1 is a loopback address"),
            ("localhost", "http://localhost:{PORT}/v1", "localhost is a loopback address"),
            ("0.0.0.0", "http://0.0.0.0:{PORT}/v1", "0.0.0.0 is a private or reserved address"),
            ("the cloud metadata address", "http://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
            ("a private 10.x address", "http://10.0.0.1/v1", "10.0.0.1 is a private or reserved address"),
            ("a decimal IP", "http://2130706433:{PORT}/v1", "2130706433 is a loopback address"),
            ("an IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:{PORT}/v1",
             "::ffff:127.0.0.1 is a loopback address"),
            ("the IPv6 loopback", "http://[::1]:{PORT}/v1", "::1 is a loopback address"),
            ("a short loopback", "http://127.1:{PORT}/v1", "127.1 is a loopback address"),
            ("a hex IP", "http://0x7f000001:{PORT}/v1", "0x7f000001 is a loopback address")]
PICK = {what: (url, reason) for what, url, reason in INTERNAL}


def internal(*names: str) -> list[tuple[str, str, str]]:
    return [(name, *PICK[name]) for name in names]


def preview(base_url: str, model: str = "ok") -> dict:
    return {"kind": DEMO, "upload": None, "path_text": "", "feedback_id": None,
            "pasted": "Blurry. The quality is poor.", "backend": "openai", "model": model, "base_url": base_url,
            "api_key": "", "subsets": ["yes-no"]}


RATE_CHAT = {"left": "tiny:llava", "right": "tiny:llava", "blind": False, "image": "file:{I}/cmyk.jpg",
             "trust": False, "api_key": ""}
API_CASES += [
    *[Api(f"internal URL, chat: {what}", "/chat_send", {**CHAT, "right": f"openai:ok@{url}"}, "ok",
          f"cannot reach {url}: {reason}: {GUARD}", user="c", unheard=True) for what, url, reason in INTERNAL],
    *[Api(f"internal URL, chat: {what} on the left", "/chat_send", {**CHAT, "left": f"openai:ok@{url}"}, "ok",
          f"{reason}: {GUARD}", unheard=True) for what, url, reason in internal("localhost", "a private 10.x address")],
    *[Api(f"internal URL, chat: rating on {what}", "/chat_rate", {**RATE_CHAT, "right": f"openai:ok@{url}"}, "ok",
          f"{reason}: {GUARD}", user="c", unheard=True)
      for what, url, reason in internal("localhost", "the cloud metadata address")],
    *[Api(f"internal URL, convert preview: {what}", "/convert_preview", preview(url), "refused",
          f"cannot reach {url}: {reason}: {GUARD}", user="c", unheard=True)
      for what, url, reason in internal("a dead loopback port", "localhost", "0.0.0.0", "the cloud metadata address",
                                        "a private 10.x address", "a decimal IP")],
    # refused before a job starts for them (the guard checks every connection of a job again)
    *[Api(f"internal URL, convert batch: {what}", "/convert_run",
          {**CONVERT, "backend": "openai", "model": "ok", "base_url": url, "name": f"url-{k}", "limit": 2},
          "refused", f"cannot reach {url}: {reason}: {GUARD}", unheard=True)
      for k, (what, url, reason) in enumerate(internal("localhost", "the cloud metadata address",
                                                       "an IPv4-mapped IPv6 loopback"))],
    *[Api(f"internal URL, evaluate: an A2 judge on {what}", "/eval_run",
          {**EVAL, "name": f"judge-{k}", "protocols": ["A2"], "a2_judge": f"openai:j@{url}", "a2_max_new_tokens": 8},
          "refused", f"cannot reach {url}: {reason}: {GUARD}", user="c", unheard=True)
      for k, (what, url, reason) in enumerate(internal("a dead loopback port", "localhost", "a private 10.x address"))],
    Api("internal URL, evaluate: a model on 0.0.0.0", "/eval_run",
        {**EVAL, "name": "url-model", "protocols": ["A3"], "models": ["openai:ok@http://0.0.0.0:{PORT}/v1"]},
        "refused", f"0.0.0.0 is a private or reserved address: {GUARD}", user="c", unheard=True),
    *[Api(f"internal URL, tune: a model on {what}", "/tune_start", {**TUNE, "name": "url", "model": f"openai:m@{url}"},
          "refused", "is an endpoint; training needs local weights", user="c", unheard=True)
      for what, url, reason in internal("localhost", "the cloud metadata address")],
    Api("internal URL, grid: scored by a model on localhost", "/corrupt_score",
        {"left": "openai:ok@http://localhost:{PORT}/v1", "right": "tiny:llava"}, "refused",
        f"localhost is a loopback address: {GUARD}", user="c", unheard=True),
    # what the operator listed answers; a listed URL nobody serves fails as a connection, not as the guard
    Api("internal URL, chat: the listed fault server answers", "/chat_send", {**CHAT, "right": "openai:ok@{URL}"},
        "ok", "Fine.", user="c"),
    Api("internal URL, convert preview: the listed fault server answers", "/convert_preview", preview("{URL}"), "ok",
        "from `pasted#0`", user="c"),
    Api("internal URL, chat: a listed URL nobody serves", "/chat_send", {**CHAT, "right": "openai:ok@{DOWN}"}, "ok",
        "cannot reach", user="c", absent="loopback address"),
]

# ---------------------------------------------------------------------------------------------- endpoint errors
# An HTTP error is its status and reason, never its body; a 200 that is no chat completion is one line; a side
# that failed is timed as failed, never in tok/s; a data file or image root that is not there refuses the start.
API_CASES += [
    Api("endpoint, chat: a 403 with a secret in its body", "/chat_send", {**CHAT, "right": "openai:e403@{URL}"},
        "ok", "the endpoint answered HTTP 403", user="c", absent=SECRET),
    Api("endpoint, chat: rating on a 403", "/chat_rate", {**RATE_CHAT, "left": "openai:e403@{URL}"}, "ok",
        "(Forbidden)", user="c", absent=SECRET),
    Api("endpoint, convert preview: a 403", "/convert_preview", preview("{URL}", "e403"), "refused",
        "**Not converted:** HTTP 403", user="c", absent=SECRET),
    Api("endpoint, convert batch: a 403", "/convert_run", {**CONVERT, "backend": "openai", "model": "e403",
                                                           "base_url": "{URL}", "name": "forbidden", "limit": 2},
        "ok", "HTTP 403: the endpoint refused the API key", absent=SECRET,
        then=("/convert_watch", {"batch": "forbidden"})),
    Api("endpoint, evaluate: a model answering 403", "/eval_run",
        {**EVAL, "name": "forbidden", "protocols": ["A3"], "models": ["openai:e403@{URL}"]}, "ok",
        "no item could be scored", user="c", absent=SECRET, then=("/eval_watch", {"runs": ["forbidden-a3"]})),
    Api("endpoint, convert preview: JSON that is not a chat completion", "/convert_preview",
        preview("{URL}", "notchat"), "refused", "the endpoint answered, but not with a chat completion", user="c"),
    Api("endpoint, chat: JSON that is not a chat completion", "/chat_send", {**CHAT, "right": "openai:notchat@{URL}"},
        "ok", "the endpoint answered, but not with a chat completion stream", user="c"),
    Api("endpoint, chat: both sides fail, timed as failed", "/chat_send",
        {**CHAT, "left": "models/nowhere", "right": "openai:e500@{URL}"}, "ok",
        "baseline: failed after", user="c", absent="tok/s"),
    *[Api(f"evaluate: {what}, not in the workspace", "/eval_run", {**EVAL, "name": "absent", "protocols": [protocol],
                                                                field: value}, "refused", message, user="c")
      for what, protocol, field, value, message in (
          ("questions", "A1", "a1_questions", "demo/world/eval/none.json",
           "questions: demo/world/eval/none.json: no such file in the workspace"),
          ("an image root", "A1", "image_root", "demo/nowhere", "image root: demo/nowhere: no such folder in the "
           "workspace"),
          ("a MOS list", "A3", "a3_mos", "nowhere.json=x", "mos: nowhere.json: no such file in the workspace"),
          ("references", "A2", "a2_references", "demo/none", "references: demo/none: no such file in the workspace"),
      )],
]

# ---------------------------------------------------------------------------------------------- queue caps
# --max-jobs 2: a user runs one job at a time and may have 4 waiting (--max-queued-per-user's default); a fifth
# is refused, whatever its tab, and another user still starts at once.  c holds their slot with a long batch
# (stopped below), fills the line with cheap jobs, then lets them all run.
HOLD = {**BATCH, "folder_text": "demo/world/images/pristine", "name": "hold", "severities": [1, 2, 3, 4, 5],
        "corruptions": ["glass_blur", "zoom_blur", "frost", "elastic_transform", "motion_blur", "defocus_blur"]}
CAP = "you already have 4 job(s) waiting for a slot (at most 4 here): wait for one to start, or abort one"
WAIT = {**CONVERT, "limit": 2}
WAIT_EVAL = {**EVAL, "protocols": ["A3"]}
API_CASES += [
    Api("queue: a long batch holds my one slot", "/corrupt_batch", HOLD, "ok", "hold started", user="c"),
    Api("queue: a conversion that must wait says so", "/convert_run", {**WAIT, "name": "wait1"}, "ok",
        "wait1 queued: it starts once a slot is free", user="c"),
    Api("queue: a second one waits", "/convert_run", {**WAIT, "name": "wait2"}, "ok", "wait2 queued", user="c"),
    Api("queue: an evaluation waits", "/eval_run", {**WAIT_EVAL, "name": "wait3"}, "ok",
        "wait3-a3 queued: it starts once a slot is free", user="c"),
    Api("queue: a fourth job waits", "/eval_run", {**WAIT_EVAL, "name": "wait4"}, "ok", "wait4-a3 queued", user="c"),
    Api("queue: a fifth waiting conversion is refused", "/convert_run", {**WAIT, "name": "wait5"}, "refused", CAP,
        user="c"),
    Api("queue: a fifth waiting evaluation is refused", "/eval_run", {**WAIT_EVAL, "name": "wait5"}, "refused", CAP,
        user="c"),
    Api("queue: a fifth waiting batch is refused", "/corrupt_batch", {**HOLD, "name": "wait5"}, "refused", CAP,
        user="c"),
    Api("queue: another user's run name is mine to use (refused for the line, not the name)", "/tune_start",
        {**TUNE, "name": "theirs"}, "refused", CAP, user="c", absent="is done"),
    Api("queue: a refused start leaves no run", "/convert_watch", {"batch": "wait5"}, "ok", user="c",
        absent="wait5"),
    Api("queue: another user starts at once beside the line", "/convert_run", {**WAIT, "name": "hers"}, "ok",
        "hers started", then=("/convert_watch", {"batch": "hers"})),
    Api("queue: c's waiting job is not a's to watch", "/convert_watch", {"batch": "wait1"}, "ok", absent="wait1"),
    Api("queue: nor in a's activity", "/eval_activity", {}, "ok", absent="wait"),
    Api("queue: my waiting evaluations are in my activity", "/eval_activity", {}, "ok", "wait4-a3**: queued",
        user="c"),
    Api("queue: abort a waiting job", "/convert_stop", {"confirmed": "yes"}, "ok", "wait2 aborted", user="c"),
    Api("queue: an aborted waiting job never ran", "/convert_watch", {"batch": "wait2"}, "ok", "wait2**: aborted",
        user="c", absent="items from"),
    Api("queue: with one place free a fourth job waits again", "/convert_run", {**WAIT, "name": "wait5"}, "ok",
        "wait5 queued: it starts once a slot is free", user="c"),
    Api("queue: stop the long batch", "/corrupt_batch_stop", {"confirmed": "yes"}, "ok", "hold aborted", user="c"),
    *[Api(f"queue: {name} runs once a slot is free", api, kwargs, "ok", done, user="c", then=(api, kwargs))
      for name, api, kwargs, done in (
          ("wait1", "/convert_watch", {"batch": "wait1"}, "wait1**: done"),
          ("wait5", "/convert_watch", {"batch": "wait5"}, "wait5**: done"),
          ("wait3-a3", "/eval_watch", {"runs": ["wait3-a3"]}, "wait3-a3**: done"),
          ("wait4-a3", "/eval_watch", {"runs": ["wait4-a3"]}, "wait4-a3**: done"))],
]
