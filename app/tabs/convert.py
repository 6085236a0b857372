"""Convert tab: preview one feedback's conversion (prompt, raw response, items with validation flags, tokens and
cost), then run a resumable batch over the dataset with progress and stop, and export the result."""
from __future__ import annotations

import threading

import gradio as gr

from qinstruct.convert.backends import FeedbackRef, backend_class, list_backends
from qinstruct.convert.items import SUBSETS
from qinstruct.convert.job import (ConvertJobConfig, estimate_cost, export_items, feedback_refs, preview_conversion,
                                   run_convert_job, usage_line)
from qinstruct.data.exporters import list_exporters
from qinstruct.endpoints import DEFAULT_MODEL

from ..context import AppContext
from ..forms import bind, bounds, label, reports_errors, shell_note

DEMO, FILE = "Embedded demo world", "A Q-Pathway file"
PREVIEW_ID, ITEMS_ID, BATCH_STATUS_ID = "convert-preview", "convert-items", "convert-batch-status"
PREVIEW_LIMIT = 500  # feedbacks offered in the preview's dropdown
_STOPS: dict[str, threading.Event] = {}  # per browser session: Stop ends that session's batch only


def source_path(ctx: AppContext, kind, upload, path_text) -> str:
    if kind == DEMO:
        return str(ctx.workspace.demo_file("pathway"))
    if upload:
        return str(upload)
    if path_text and path_text.strip():
        return str(ctx.access.data_path(path_text, "file"))
    raise gr.Error("Upload a Q-Pathway JSONL file or type its path.")


def job_config(ctx: AppContext, kind, upload, path_text, backend, model, base_url, subsets, concurrency,
               name) -> ConvertJobConfig:
    return ConvertJobConfig(input=source_path(ctx, kind, upload, path_text),
                            out=str(ctx.workspace.conversion_folder(name)), backend=backend,
                            model=model or DEFAULT_MODEL, base_url=base_url or None, subsets=list(subsets or []),
                            concurrency=int(concurrency), cache_dir=str(ctx.workspace.conversion_cache))


@reports_errors
def load_feedbacks(ctx: AppContext, kind, upload, path_text):
    refs = feedback_refs(source_path(ctx, kind, upload, path_text), limit=PREVIEW_LIMIT)
    choices = [(f"{r.feedback_id}: {r.text[:70]}…", r.feedback_id) for r in refs]
    return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)


@reports_errors
def preview(ctx: AppContext, kind, upload, path_text, feedback_id, pasted, backend, model, base_url, api_key,
            subsets):
    config = job_config(ctx, kind, upload, path_text, backend, model, base_url, subsets, 1, "preview")
    if pasted and pasted.strip():
        ref = FeedbackRef("pasted#0", pasted.strip(), None)
    else:
        refs = {r.feedback_id: r for r in feedback_refs(config.input, limit=PREVIEW_LIMIT)}
        if feedback_id not in refs:
            raise gr.Error("Pick a feedback (press Load) or paste one.")
        ref = refs[feedback_id]
    conversion = preview_conversion(config, ref, api_key or None, ctx.access.keys)
    rows = [[i["type"], i["form"], i["conversations"][0]["value"].replace("<image>\n", ""),
             i["conversations"][-1]["value"], "; ".join(i.get("flags", [])) or "ok"] for i in conversion.items]
    flags = "; ".join(conversion.flags) if conversion.flags else "no validation problems"
    status = f"**{len(conversion.items)} items** from `{ref.feedback_id}` · {flags}"
    if backend_class(backend).remote:
        status += f" · {usage_line(conversion, config.model)}"
    prompt = "\n\n".join(f"## {group}\n{text}" for group, text in conversion.prompts.items())
    response = "\n\n".join(f"## {group}\n{text}" for group, text in conversion.raw.items()) or \
        "(the offline converter makes no request)"
    return status, prompt, response, rows


@reports_errors
def estimate(ctx: AppContext, kind, upload, path_text, backend, model, base_url, subsets, concurrency, name):
    config = job_config(ctx, kind, upload, path_text, backend, model, base_url, subsets, concurrency, name)
    refs = feedback_refs(config.input)
    return f"{len(refs):,} feedback(s): {estimate_cost(config, refs).line(config.model)}"


@reports_errors
def run_batch(ctx: AppContext, kind, upload, path_text, backend, model, base_url, api_key, subsets, concurrency,
              name, request: gr.Request, progress=gr.Progress()):
    config = job_config(ctx, kind, upload, path_text, backend, model, base_url, subsets, concurrency, name)
    stop = _STOPS.setdefault(request.session_hash, threading.Event())
    stop.clear()
    try:
        report = run_convert_job(config, api_key or None,
                                 lambda done, total: progress((done, max(total, 1)), unit="feedbacks"), stop,
                                 ctx.access.keys)
    finally:
        _STOPS.pop(request.session_hash, None)
    lines = [f"**{report.summary()}**", shell_note(config)]
    if report.failed:
        lines.append("Failed (retried on the next run): " + "; ".join(f"{i}: {r}" for i, r in report.failed[:5]))
    if report.stopped:
        lines.append("Stopped: run again with the same name to resume.")
    table = [[k, v] for k, v in sorted(report.by_type.items())]
    table.append(["yes / no", f"{report.yes_no.get('yes', 0)} / {report.yes_no.get('no', 0)}"])
    return "\n\n".join(lines), table, config.out if report.output else ""


def stop_batch(request: gr.Request):
    stop = _STOPS.get(request.session_hash)
    if stop is None:
        return "No batch of yours is running."
    stop.set()
    return "Stopping after the requests in flight…"


@reports_errors
def export(ctx: AppContext, run_folder, target):
    if not run_folder:
        raise gr.Error("Run a complete batch first.")
    return [str(path) for path in export_items(run_folder, target)]


def create_tab(ctx: AppContext, blocks: gr.Blocks, page: dict) -> None:
    with gr.Tab("Convert", id="convert"):
        run_folder = gr.State("")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                kind = gr.Radio([DEMO, FILE], value=DEMO, label="Feedbacks")
                upload = gr.File(None, label="Q-Pathway JSONL", file_types=[".jsonl", ".json"], type="filepath")
                path_text = gr.Textbox("", label="…or its path in the workspace (or a folder the operator allowed)")
                load_button = gr.Button("Load feedbacks")
                feedback = gr.Dropdown([], label="Feedback")
                pasted = gr.Textbox("", label="…or paste a feedback", lines=4)
                backend = gr.Radio(list_backends(), value="offline", label=label(ConvertJobConfig, "backend"))
                model = gr.Textbox(DEFAULT_MODEL, label=label(ConvertJobConfig, "model"))
                base_url = gr.Textbox("", label=label(ConvertJobConfig, "base_url"))
                api_key = gr.Textbox("", label="API key (kept in memory for your requests only, never saved)",
                                     type="password")
                subsets = gr.CheckboxGroup(list(SUBSETS), value=list(SUBSETS), label=label(ConvertJobConfig, "subsets"))
                preview_button = gr.Button("Preview conversion", variant="primary")
            with gr.Column(scale=2):
                preview_status = gr.Markdown(elem_id=PREVIEW_ID, elem_classes=["qi-status"])
                with gr.Row():
                    prompt_view = gr.Code(label="Exact prompt", language="markdown", lines=14)
                    response_view = gr.Code(label="Raw response", language="json", lines=14)
                items_view = gr.Dataframe(headers=["type", "form", "question", "answer", "validation"],
                                          label="Parsed items", wrap=True, elem_id=ITEMS_ID,
                                          column_widths=["9%", "9%", "47%", "22%", "13%"])
        with gr.Accordion("Batch over the dataset (resumable: same name continues)", open=True):
            with gr.Row():
                name = gr.Textbox("demo-offline", label="Run name")
                concurrency = gr.Slider(step=1, label=label(ConvertJobConfig, "concurrency"),
                                        **bounds(ConvertJobConfig, "concurrency", ui_max=64))
            with gr.Row():
                estimate_button = gr.Button("Estimate cost")
                run_button = gr.Button("Run", variant="primary")
                stop_button = gr.Button("Stop", variant="stop")
            batch_status = gr.Markdown(elem_id=BATCH_STATUS_ID)
            counts = gr.Dataframe(headers=["type", "items"], label="Counts")
            with gr.Row():
                target = gr.Radio(list_exporters(), value="llamafactory", label="Export format")
                export_button = gr.Button("Export")
            exported = gr.File(label="Exported files", file_count="multiple")

    source = [kind, upload, path_text]
    load_button.click(bind(load_feedbacks, ctx), source, feedback, api_name="convert_load")
    preview_button.click(bind(preview, ctx),
                         [*source, feedback, pasted, backend, model, base_url, api_key, subsets],
                         [preview_status, prompt_view, response_view, items_view], api_name="convert_preview")
    estimate_button.click(bind(estimate, ctx),
                          [*source, backend, model, base_url, subsets, concurrency, name], batch_status,
                          api_name="convert_estimate")
    run_button.click(bind(run_batch, ctx),
                     [*source, backend, model, base_url, api_key, subsets, concurrency, name],
                     [batch_status, counts, run_folder], api_name="convert_run")
    stop_button.click(stop_batch, None, batch_status, api_name="convert_stop")
    export_button.click(bind(export, ctx), [run_folder, target], exported, api_name="convert_export")
