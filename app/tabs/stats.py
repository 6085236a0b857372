"""Statistics tab: Table 1 (original vs MOS-balanced), Fig. 3 figures, filters, PNG / CSV / Markdown export."""
from __future__ import annotations

import io

import gradio as gr
from PIL import Image

from qinstruct.demo.config import WorldConfig
from qinstruct.stats.config import StatsConfig
from qinstruct.stats.dataset import load_inputs
from qinstruct.stats.figures import to_png
from qinstruct.stats.report import FIGURES, run_report
from qinstruct.stats.table1 import format_table1
from qinstruct.workspace import world_ready

from ..context import AppContext, user_event
from ..forms import bounds, label, reports_errors, shell_note
from ..watching import follow

DEMO, FILES = "Embedded demo world", "Files"
STATUS_ID = "stats-status"
TABLE_ID = "stats-table1"
SHELL_ID = "stats-shell"
FIGURE_IDS = {figure.name: f"stats-{figure.name.replace('_', '-')}" for figure in FIGURES}


def figure_rows() -> list[list]:
    """The report's figures in rows: a wide one alone, the others two by two."""
    rows: list[list] = []
    for figure in FIGURES:
        if figure.wide or not rows or len(rows[-1]) == 2 or rows[-1][0].wide:
            rows.append([figure])
        else:
            rows[-1].append(figure)
    return rows


SYNTHETIC = "synthetic demo data"


def _as_image(figure) -> Image.Image:
    return figure if isinstance(figure, Image.Image) else Image.open(io.BytesIO(to_png(figure)))


def marked_synthetic(image: Image.Image) -> Image.Image:
    """A demo figure says on itself that it shows the demo world's generated data (a screenshot of it on a slide
    must not pass for a real dataset's)."""
    from PIL import ImageDraw, ImageFont

    image = image.convert("RGB")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(12, image.height // 28))
    box = draw.textbbox((0, 0), SYNTHETIC, font=font)
    x, y = image.width - (box[2] - box[0]) - 10, 6
    draw.rectangle((x - 4, y - 2, x + box[2] - box[0] + 4, y + box[3] - box[1] + 6), fill=(255, 243, 205))
    draw.text((x, y), SYNTHETIC, fill=(133, 77, 14), font=font)
    return image


def input_files(ctx: AppContext, kind: str, uploads, paths: str) -> list[str]:
    """The demo world's pathway file, or the uploads and typed FILE[=SOURCE] lines (inside what the studio may
    read)."""
    if kind == DEMO:
        return [str(ctx.workspace.demo_file("pathway"))]
    specs = [str(ctx.workspace.keep_data_upload(f)) for f in uploads or []]  # a path the shell line can name
    specs += [ctx.access.data_spec(line) for line in (paths or "").splitlines() if line.strip()]
    if not specs:
        raise gr.Error("Upload files or type paths (one per line, FILE or FILE=SOURCE).")
    return specs


def _selection(ctx: AppContext, kind, uploads, paths, scales_text) -> tuple[dict, list[str]]:
    config = StatsConfig(files=input_files(ctx, kind, uploads, paths), out="",
                         scales=[s.strip() for s in (scales_text or "").split(",") if s.strip()])
    data = load_inputs(config)
    if not len(data):
        raise gr.Error("No valid rows: " + ("; ".join(data.problems) or "the files are empty"))
    for problem in data.problems:
        gr.Warning(problem)
    return {"files": config.files, "scales": config.scales}, data.source_names()


VIEW_OUTPUTS = len(FIGURE_IDS) + 4  # status, Table 1, the figures, the download, the shell line


@reports_errors(line=2, outputs=VIEW_OUTPUTS + 2)  # the status line: the last view stays until one loads
def load(ctx: AppContext, kind, uploads, paths, scales_text, mos_min, mos_max, budget, bins, seed):
    """A dataset and its view at once, so that a file that does not load leaves the last view as it was."""
    selection, sources = _selection(ctx, kind, uploads, paths, scales_text)
    return (selection, gr.CheckboxGroup(choices=sources, value=sources),
            *update(ctx, selection, sources, mos_min, mos_max, budget, bins, seed))


@reports_errors(line=0, outputs=VIEW_OUTPUTS)
def update(ctx: AppContext, selection, sources, mos_min, mos_max, budget, bins, seed):
    if not selection:
        raise gr.Error("Load a dataset first.")
    config = StatsConfig(files=selection["files"], scales=selection["scales"], sources=list(sources or []),
                         mos_min=float(mos_min), mos_max=float(mos_max), budget=int(budget or 0), bins=int(bins),
                         seed=int(seed or 0), out="")
    config.out = str(ctx.workspace.reports / config.key())  # the same view, the same folder: disk use stays flat
    report, archive = run_report(config)
    text = report.text
    status = (f"**{len(report.data):,} images**, {len(report.data.source_names())} source(s), "
              f"{text.n_feedbacks:,} feedbacks ({text.mean_words:.1f} words on average) · computed in "
              f"{report.seconds:.2f} s")
    if report.sampled is not None:
        status += " · flatness original → balanced: " + ", ".join(
            f"{s} {b:.2f}→{a:.2f}" for s, (b, a) in report.flatness().items())
    synthetic = selection["files"] == [str(ctx.workspace.demo_file("pathway"))]
    figures = [_as_image(report.images[name]) for name in FIGURE_IDS]
    if synthetic:
        status = f"**{SYNTHETIC.capitalize()}** (the embedded demo world: generated images, feedbacks and MOS) · " \
            + status
        figures = [marked_synthetic(figure) for figure in figures]
    return (status, format_table1(report.table, report.sampled_table), *figures,
            gr.DownloadButton(value=str(archive), interactive=True), shell_note(config, ctx.workspace))


@reports_errors
def build_demo(ctx: AppContext, progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a progress bar
    """The demo world, built as a job (its own process); this handler only watches it."""
    folder, studio = ctx.workspace.demo_world, ctx.for_user(None)  # the studio's own world, shared by every user
    job = studio.jobs.view(folder, None)
    if not world_ready(folder) and (job is None or not job.status.live):
        studio.jobs.start(WorldConfig(out=str(folder)), None)  # its fixed config: nothing a user chose
    for job in follow(ctx, folder, None):
        if job.total:
            progress((job.step, job.total), unit="images")
    if not world_ready(folder):
        raise gr.Error(f"The demo world was not built: {job.error if job else 'no job'}")
    return gr.Radio(value=DEMO)


def initial(ctx: AppContext):
    if not world_ready(ctx.workspace.demo_world):
        return (None, gr.CheckboxGroup(), "The demo world is not built yet: press “Build demo world”.",
                *([None] * (VIEW_OUTPUTS - 1)))
    selection, sources = _selection(ctx, DEMO, None, "", "")
    defaults = StatsConfig(files=selection["files"], out="")
    return selection, gr.CheckboxGroup(choices=sources, value=sources), *update(
        ctx, selection, sources, defaults.mos_min, defaults.mos_max, defaults.budget, defaults.bins, defaults.seed)


def create_tab(ctx: AppContext, blocks: gr.Blocks, page: dict) -> None:
    with gr.Tab("Statistics", id="stats"):
        selection = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                kind = gr.Radio([DEMO, FILES], value=DEMO, label="Dataset")
                with gr.Group(visible=False) as files_group:
                    uploads = gr.File(label="Upload files", file_count="multiple", file_types=[".json", ".jsonl"])
                    paths = gr.Textbox(label="…or paths in the workspace (or a folder the operator allowed), one per "
                                       "line: FILE or FILE=SOURCE", lines=3)
                    scales = gr.Textbox(label=label(StatsConfig, "scales", "(comma separated)"))
                load_button = gr.Button("Load", variant="primary")
                build_button = gr.Button("Build demo world", visible=not world_ready(ctx.workspace.demo_world))
                sources = gr.CheckboxGroup([], label="Sources")
                mos_min = gr.Slider(step=1, label=label(StatsConfig, "mos_min"), **bounds(StatsConfig, "mos_min"))
                mos_max = gr.Slider(step=1, label=label(StatsConfig, "mos_max"), **bounds(StatsConfig, "mos_max"))
                budget = gr.Number(precision=0, label=label(StatsConfig, "budget"), **bounds(StatsConfig, "budget"))
                with gr.Row():
                    bins = gr.Slider(step=1, label=label(StatsConfig, "bins"), **bounds(StatsConfig, "bins", ui_max=20))
                    seed = gr.Number(precision=0, label=label(StatsConfig, "seed"), **bounds(StatsConfig, "seed"))
                refresh = gr.Button("Update")
                download = gr.DownloadButton("Download report (.zip: PNG, CSV, Markdown)", interactive=False)
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id=STATUS_ID, elem_classes=["qi-status"])
                table = gr.Markdown(elem_id=TABLE_ID)
                images = {}
                for row in figure_rows():
                    with gr.Row():
                        for figure in row:
                            images[figure.name] = gr.Image(label=figure.label, show_label=False, type="pil",
                                                           interactive=False, elem_id=FIGURE_IDS[figure.name],
                                                           buttons=["download", "fullscreen"])
                shell = gr.Markdown(elem_id=SHELL_ID)

    outputs = [status, table, *[images[name] for name in FIGURE_IDS], download, shell]
    filters = [selection, sources, mos_min, mos_max, budget, bins, seed]
    do_update = user_event(update, ctx)
    kind.change(lambda k: gr.Group(visible=k == FILES), kind, files_group, api_name=False)
    load_button.click(user_event(load, ctx), [kind, uploads, paths, scales, *filters[2:]],
                      [selection, sources, *outputs],
                      api_name="stats_load")
    refresh.click(do_update, filters, outputs, api_name="stats_update")
    for control in (sources, budget, bins, seed):
        control.input(do_update, filters, outputs, api_name=False)
    for slider in (mos_min, mos_max):
        slider.release(do_update, filters, outputs, api_name=False)
    build_button.click(user_event(build_demo, ctx), None, kind, api_name=False) \
        .then(lambda: gr.Button(visible=False), None, build_button, api_name=False)
    blocks.load(user_event(initial, ctx), None, [selection, sources, *outputs], api_name=False)
