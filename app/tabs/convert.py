"""Convert tab: preview one feedback's conversion (prompt, raw response, items with validation flags, tokens and
cost), then run a resumable batch over the dataset with progress and stop, and export the result."""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import gradio as gr

from qinstruct.config import ConfigError
from qinstruct.convert.backends import ConversionError, FeedbackRef, convert_once, list_backends
from qinstruct.convert.cost import TokenCounter, load_prices
from qinstruct.convert.items import SUBSETS
from qinstruct.convert.job import ConvertJobConfig, estimate_cost, feedback_refs, make_backend, run_convert_job
from qinstruct.data.exporters import export_instructions
from qinstruct.data.loaders import DataError, load_instructions
from qinstruct.workspace import safe_name

from ..context import AppContext

DEMO, FILE = "Embedded demo world", "A Q-Pathway file"
PREVIEW_ID, ITEMS_ID, BATCH_STATUS_ID = "convert-preview", "convert-items", "convert-batch-status"


def create_tab(ctx: AppContext, blocks: gr.Blocks) -> None:
    root = ctx.workspace.folder("convert")
    stops: dict[str, threading.Event] = {}

    def source_path(kind, upload, path_text) -> str:
        if kind == DEMO:
            path = ctx.workspace.demo_world / "pathway.jsonl"
            if not path.is_file():
                raise gr.Error("The demo world is not built yet (Statistics tab: Build demo world).")
            return str(path)
        if upload:
            return str(upload)
        if path_text and Path(path_text).expanduser().is_file():
            return str(Path(path_text).expanduser())
        raise gr.Error("Upload a Q-Pathway JSONL file or type its path.")

    def config_for(kind, upload, path_text, backend, model, base_url, subsets, concurrency, name) -> ConvertJobConfig:
        out = root / safe_name(name or "conversion") / "items.json"
        config = ConvertJobConfig(input=source_path(kind, upload, path_text), out=str(out), backend=backend,
                                  model=model or "gpt-4o-mini", base_url=base_url or None,
                                  subsets=list(subsets or []), concurrency=int(concurrency),
                                  cache_dir=str(root / ".cache"))
        try:
            config.validate()
        except ConfigError as error:
            raise gr.Error(str(error)) from None
        return config

    def load_feedbacks(kind, upload, path_text):
        try:
            refs = feedback_refs(source_path(kind, upload, path_text), limit=500)
        except DataError as error:
            raise gr.Error(str(error)) from None
        choices = [(f"{r.feedback_id}: {r.text[:70]}…", r.feedback_id) for r in refs]
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    def preview(kind, upload, path_text, feedback_id, pasted, backend, model, base_url, api_key, subsets):
        if pasted and pasted.strip():
            ref = FeedbackRef("pasted#0", pasted.strip(), None)
        else:
            refs = {r.feedback_id: r for r in feedback_refs(source_path(kind, upload, path_text), limit=500)}
            if feedback_id not in refs:
                raise gr.Error("Pick a feedback (press Load) or paste one.")
            ref = refs[feedback_id]
        config = config_for(kind, upload, path_text, backend, model, base_url, subsets, 1, "preview")
        engine = make_backend(config, api_key or None)
        raw: list[str] = []
        try:
            conversion = asyncio.run(convert_once(engine, ref, tuple(config.subsets),
                                                  on_delta=lambda group, delta: raw.append(delta)))
        except ConversionError as error:
            raise gr.Error(f"The server failed: {error}") from None
        rows = [[i["type"], i["form"], i["conversations"][0]["value"].replace("<image>\n", ""),
                 i["conversations"][-1]["value"], "; ".join(i.get("flags", [])) or "ok"] for i in conversion.items]
        prices = load_prices().get(config.model)
        cost = ""
        if backend != "offline":
            counter = TokenCounter(config.model)
            usd = (conversion.prompt_tokens * prices["input"] + conversion.completion_tokens * prices["output"]) / 1e6 \
                if prices else None
            cost = (f"{conversion.calls} call(s), {conversion.cached_groups} from the cache · "
                    f"{conversion.prompt_tokens} prompt + {conversion.completion_tokens} completion tokens"
                    + (f" · ${usd:.4f}" if usd is not None else " · no price known for this model")
                    + ("" if counter.exact else " (token counts as reported by the server)"))
        flags = "; ".join(conversion.flags) if conversion.flags else "no validation problems"
        status = f"**{len(conversion.items)} items** from `{ref.feedback_id}` · {flags}" + (f" · {cost}" if cost else "")
        prompt = "\n\n".join(f"## {group}\n{text}" for group, text in conversion.prompts.items())
        response = "\n\n".join(f"## {group}\n{text}" for group, text in conversion.raw.items()) or "".join(raw) or \
            "(the offline converter makes no request)"
        return status, prompt, response, rows

    def estimate(kind, upload, path_text, backend, model, base_url, subsets, concurrency, name):
        config = config_for(kind, upload, path_text, backend, model, base_url, subsets, concurrency, name)
        refs = feedback_refs(config.input)
        if backend == "offline":
            return f"{len(refs):,} feedback(s); the offline converter costs nothing."
        return f"{len(refs):,} feedback(s): {estimate_cost(config, refs).line(config.model)}"

    def run_batch(kind, upload, path_text, backend, model, base_url, api_key, subsets, concurrency, name,
                  request: gr.Request, progress=gr.Progress()):
        config = config_for(kind, upload, path_text, backend, model, base_url, subsets, concurrency, name)
        stop = stops.setdefault(request.session_hash, threading.Event())
        stop.clear()
        try:
            report = run_convert_job(config, api_key or None,
                                     lambda done, total: progress((done, max(total, 1)), unit="feedbacks"), stop)
        except ConfigError as error:
            raise gr.Error(str(error)) from None
        lines = [f"**{report.summary()}**"]
        if report.failed:
            lines.append("Failed (retried on the next run): " + "; ".join(f"{i}: {r}" for i, r in report.failed[:5]))
        if report.stopped:
            lines.append("Stopped: run again with the same name to resume.")
        table = [[k, v] for k, v in sorted(report.by_type.items())]
        table.append(["yes / no", f"{report.yes_no.get('yes', 0)} / {report.yes_no.get('no', 0)}"])
        return "\n\n".join(lines), table, report.output or ""

    def stop_batch(request: gr.Request):
        stops.setdefault(request.session_hash, threading.Event()).set()
        return "Stopping after the requests in flight…"

    def export(output, target):
        if not output:
            raise gr.Error("Run a complete batch first.")
        try:
            items = load_instructions(output).items
        except DataError as error:
            raise gr.Error(str(error)) from None
        files = export_instructions(items, Path(output).parent / target, target, Path(output).parent.name)
        return [str(f) for f in files]

    with gr.Tab("Convert", id="convert"):
        output_path = gr.State("")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                kind = gr.Radio([DEMO, FILE], value=DEMO, label="Feedbacks")
                upload = gr.File(None, label="Q-Pathway JSONL", file_types=[".jsonl", ".json"], type="filepath")
                path_text = gr.Textbox("", label="…or its path on this machine")
                load_button = gr.Button("Load feedbacks")
                feedback = gr.Dropdown([], label="Feedback")
                pasted = gr.Textbox("", label="…or paste a feedback", lines=4)
                backend = gr.Radio(list_backends(), value="offline", label="Backend")
                model = gr.Textbox("gpt-4o-mini", label="Model (openai backend)")
                base_url = gr.Textbox("", label="Base URL (OpenAI-compatible: vLLM, SGLang, Ollama; empty: OpenAI)")
                api_key = gr.Textbox("", label="API key (kept in memory for the request only)", type="password")
                subsets = gr.CheckboxGroup(list(SUBSETS), value=list(SUBSETS), label="Subsets")
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
                concurrency = gr.Slider(1, 64, value=16, step=1, label="Concurrency")
            with gr.Row():
                estimate_button = gr.Button("Estimate cost")
                run_button = gr.Button("Run", variant="primary")
                stop_button = gr.Button("Stop", variant="stop")
            batch_status = gr.Markdown(elem_id=BATCH_STATUS_ID)
            counts = gr.Dataframe(headers=["type", "items"], label="Counts")
            with gr.Row():
                target = gr.Radio(["llava", "llamafactory", "trl"], value="llamafactory", label="Export format")
                export_button = gr.Button("Export")
            exported = gr.File(label="Exported files", file_count="multiple")

    source = [kind, upload, path_text]
    load_button.click(load_feedbacks, source, feedback, api_name="convert_load")
    preview_button.click(preview, [*source, feedback, pasted, backend, model, base_url, api_key, subsets],
                         [preview_status, prompt_view, response_view, items_view], api_name="convert_preview")
    job_inputs = [*source, backend, model, base_url, subsets, concurrency, name]
    estimate_button.click(estimate, job_inputs, batch_status, api_name="convert_estimate")
    run_button.click(run_batch, [*source, backend, model, base_url, api_key, subsets, concurrency, name],
                     [batch_status, counts, output_path], api_name="convert_run")
    stop_button.click(stop_batch, None, batch_status, api_name="convert_stop")
    export_button.click(export, [output_path, target], exported, api_name="convert_export")
