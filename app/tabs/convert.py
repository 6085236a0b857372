"""Convert tab: preview one feedback's conversion (prompt, raw response, items with validation flags, tokens and
cost), then run a resumable batch over the dataset with progress and stop, and export the result."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from qinstruct.config import config_from_mapping, job_fields, read_yaml_mapping
from qinstruct.convert.backends import ConversionError, FeedbackRef, backend_class, list_backends
from qinstruct.convert.items import SUBSETS
from qinstruct.convert.job import (
    ITEMS,
    REPORT,
    ConvertJobConfig,
    count_feedbacks,
    estimate_cost,
    export_items,
    feedback_refs,
    preview_conversion,
    usage_line,
)
from qinstruct.data.exporters import list_exporters
from qinstruct.endpoints import DEFAULT_MODEL
from qinstruct.errors import UserError

from ..context import AppContext, actor, user_event
from ..forms import bounds, config_form, error_line, form_values, label, named, reports_errors, shell_note
from ..watching import batch_step, run_folder, stop_step

DEMO, FILE = "Embedded demo world", "A Q-Pathway file"
PREVIEW_ID, ITEMS_ID, BATCH_STATUS_ID = "convert-preview", "convert-items", "convert-batch-status"
BATCH_PROGRESS_ID, EXPORT_NOTE_ID = "convert-batch-progress", "convert-export-note"
PREVIEW_LIMIT = 500  # feedbacks offered in the preview's dropdown
# The preview appears at the top of the right column, on a projector's 720 px far above its button at the foot of
# the left one: where it appears is brought into view, as the user would look for it.
SHOW_PREVIEW = f"() => document.getElementById('{PREVIEW_ID}').scrollIntoView({{block: 'start'}})"
# the batch's name opens as the offline example's run folder (assets/configs/convert_offline.yaml): the demo's data
DEMO_RUN = Path(read_yaml_mapping(Path(__file__).resolve().parents[2] / "assets" / "configs" /
                                  "convert_offline.yaml")["out"]).name


def source_text(ctx: AppContext, kind, upload, path_text) -> str:
    """The feedback file the page names: the demo's, an upload, or a path as typed."""
    if kind == DEMO:
        return str(ctx.workspace.demo_file("pathway"))
    if upload:  # kept in the workspace: a path the shell line can name, and a job can read after Gradio's cleanup
        return str(ctx.workspace.keep_data_upload(upload))
    if path_text and path_text.strip():
        return path_text.strip()
    raise gr.Error("Upload a Q-Pathway JSONL file or type its path.")


def source_path(ctx: AppContext, kind, upload, path_text) -> str:
    """The feedback file a preview reads, confined to what the user may read (a job's is confined by the
    launcher)."""
    return str(ctx.access.data_path(source_text(ctx, kind, upload, path_text), "file"))


# the fields this tab lays out itself; the others come from ConvertJobConfig under "More options" (the cache is
# the user's: every conversion of theirs shares it, nobody else's)
OWN = ("input", "out", "backend", "model", "base_url", "subsets", "concurrency", "cache_dir")


def more_names() -> list[str]:
    return [f.name for f in job_fields(ConvertJobConfig) if f.name not in OWN]


def job_config(ctx: AppContext, kind, upload, path_text, backend, model, base_url, subsets, concurrency,
               name, more: tuple = ()) -> ConvertJobConfig:
    """The conversion the form asks for, as it would start (its files confined and present)."""
    extra = form_values(ConvertJobConfig, more_names(), more)
    return ctx.jobs.admit(config_from_mapping(ConvertJobConfig, {
        "input": source_text(ctx, kind, upload, path_text), "out": str(ctx.workspace.conversion_folder(name)),
        "backend": backend, "model": model or DEFAULT_MODEL, "base_url": base_url or None,
        "subsets": list(subsets or []), "concurrency": int(concurrency),
        "cache_dir": str(ctx.workspace.conversion_cache), **extra}, "the form"))


@reports_errors(line=1, outputs=2)  # the line above the preview
def load_feedbacks(ctx: AppContext, kind, upload, path_text):
    refs = feedback_refs(source_path(ctx, kind, upload, path_text), limit=PREVIEW_LIMIT)
    choices = [(f"{r.feedback_id}: {r.text[:70]}…", r.feedback_id) for r in refs]
    shown = f"the first {PREVIEW_LIMIT}" if len(refs) >= PREVIEW_LIMIT else "all"
    return (gr.Dropdown(choices=choices, value=choices[0][1] if choices else None),
            f"Loaded {shown} of the file's feedbacks: pick one under *Feedback*, then *Preview conversion*.")


@reports_errors(line=0, outputs=4)
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
    try:
        conversion = preview_conversion(config, ref, api_key or None, ctx.access.keys)
    except ConversionError as error:  # one line where the user looks; the last preview stays as it was
        return error_line(f"**Not converted:** {error}", 0, 4)
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


@reports_errors(line=0)
def estimate(ctx: AppContext, kind, upload, path_text, backend, model, base_url, subsets, concurrency, name,
             request: gr.Request, *more):
    config = job_config(ctx, kind, upload, path_text, backend, model, base_url, subsets, concurrency, name, more)
    return f"{count_feedbacks(config.input):,} feedback(s): {estimate_cost(config).line(config.model)}"


@reports_errors(line=0, outputs=2)
def run_batch(ctx: AppContext, kind, upload, path_text, backend, model, base_url, api_key, subsets, concurrency,
              name, request: gr.Request, *more):
    """Start the conversion as a job (its own process; the same name continues it); the key typed here goes to
    that process's memory only, never to a file."""
    config = job_config(ctx, kind, upload, path_text, backend, model, base_url, subsets, concurrency, name, more)
    message = ctx.jobs.start(config, actor(request), user_key=api_key or None)
    return f"**{message}**\n\n{shell_note(config, ctx.workspace)}", Path(config.out).name


def watch_batch(ctx: AppContext, batch, drawn, request: gr.Request = None):
    """The conversion this page started: its progress, then its counts."""
    folder = run_folder(ctx.workspace.conversions, batch)
    return batch_step(ctx, folder, actor(request), drawn, conversion_summary)


def conversion_summary(job) -> tuple[str, object]:
    lines = [job.line()] + [f"- {line}" for line in job.log_tail.splitlines()
                            if line.startswith(("failed:", "error:"))][:5]
    report = read_report(job.path)
    if report is None:
        return "\n\n".join(lines + ["Not complete: run again with the same name to resume."]), gr.skip()
    table = [[k, v] for k, v in sorted(report.get("by_type", {}).items())]
    yes_no = report.get("yes_no", {})
    table.append(["yes / no", f"{yes_no.get('yes', 0)} / {yes_no.get('no', 0)}"])
    lines.append(f"{report.get('items', 0):,} items from {report.get('feedbacks', 0):,} feedbacks")
    return "\n\n".join(lines), table


@reports_errors(line=0)
def stop_batch(ctx: AppContext, batch, confirmed, request: gr.Request = None):
    folder = run_folder(ctx.workspace.conversions, batch)
    return stop_step(ctx, folder, actor(request), confirmed, "No conversion of yours is running here.")


@reports_errors(line=1, outputs=2)
def export(ctx: AppContext, batch, target, request: gr.Request = None):
    """The conversion this page ran, in another trainer's format (once it is complete)."""
    folder = run_folder(ctx.workspace.conversions, batch)
    job = ctx.jobs.view(folder, actor(request)) if folder else None
    if job is None or not (job.path / ITEMS).is_file():
        raise UserError("Run a complete batch first.")
    paths = export_items(job.path, target)
    return [str(path) for path in paths], f"Exported {len(paths)} file(s) for {target}."


def create_tab(ctx: AppContext, blocks: gr.Blocks, page: dict) -> None:
    with gr.Tab("Convert", id="convert"):
        batch, batch_drawn = gr.State(""), gr.State(None)
        confirmed = gr.Textbox(visible=False)  # what the Stop button's question answered
        batch_timer = gr.Timer(1.0, active=False)  # on while a conversion of this page runs
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
                name = gr.Textbox(DEMO_RUN, label="Run name")
                concurrency = gr.Slider(step=1, label=label(ConvertJobConfig, "concurrency"),
                                        **bounds(ConvertJobConfig, "concurrency", ui_max=64))
            more = config_form(ConvertJobConfig, {}, skip=OWN, title="More options", open_groups=0, prefix="convert-")
            with gr.Row():
                estimate_button = gr.Button("Estimate cost")
                run_button = gr.Button("Run", variant="primary")
                stop_button = gr.Button("Stop…", variant="stop")
            batch_status = gr.Markdown(elem_id=BATCH_STATUS_ID)
            batch_progress = gr.Markdown(elem_id=BATCH_PROGRESS_ID)
            counts = gr.Dataframe(headers=["type", "items"], label="Counts")
            with gr.Row():
                target = gr.Radio(list_exporters(), value="llamafactory", label="Export format")
                export_button = gr.Button("Export")
            export_note = gr.Markdown(elem_id=EXPORT_NOTE_ID)
            exported = gr.File(label="Exported files", file_count="multiple")

    source = [kind, upload, path_text]
    load_button.click(user_event(load_feedbacks, ctx), source, [feedback, preview_status], api_name="convert_load")
    preview_button.click(user_event(preview, ctx),
                         [*source, feedback, pasted, backend, model, base_url, api_key, subsets],
                         [preview_status, prompt_view, response_view, items_view], api_name="convert_preview") \
        .then(None, None, None, js=SHOW_PREVIEW, api_name=False, queue=False)
    extra = [more[n] for n in more_names()]
    estimate_button.click(named(user_event(estimate, ctx), more_names()),
                          [*source, backend, model, base_url, subsets, concurrency, name, *extra], batch_status,
                          api_name="convert_estimate")
    run_button.click(named(user_event(run_batch, ctx), more_names()),
                     [*source, backend, model, base_url, api_key, subsets, concurrency, name, *extra],
                     [batch_status, batch], api_name="convert_run") \
        .then(lambda: gr.Timer(active=True), None, batch_timer, api_name=False)
    batch_timer.tick(user_event(watch_batch, ctx), [batch, batch_drawn],
                     [batch_progress, counts, batch_drawn, batch_timer],
                     api_name=False, show_progress="hidden")
    stop_button.click(user_event(stop_batch, ctx), [batch, confirmed], batch_status, api_name="convert_stop",
                      js="(batch, confirmed) => [batch, confirm('Stop this conversion? Running it again with the "
                         "same name continues it, without paying twice.') ? 'yes' : '']")
    export_button.click(user_event(export, ctx), [batch, target], [exported, export_note], api_name="convert_export")


def read_report(folder: Path) -> dict | None:
    try:
        report = json.loads((folder / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def watch_batch_api(ctx: AppContext, batch: str, request: gr.Request = None) -> str:
    """For scripts and tests: the conversion's progress text as the page shows it."""
    shown = watch_batch(ctx, batch, None, request)[0]
    return shown if isinstance(shown, str) else ""


def wire(ctx: AppContext, page: dict) -> None:
    """Outside the tabs (an API route is no tab): the job's view by name, for scripts and tests."""
    gr.api(user_event(watch_batch_api, ctx), api_name="convert_watch")
