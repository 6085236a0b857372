"""Statistics tab: Table 1 (original vs MOS-balanced), Fig. 3 figures, filters, PNG / CSV / Markdown export."""
from __future__ import annotations

import functools
import io
import os
from pathlib import Path

import gradio as gr
from PIL import Image

from qinstruct.config import ConfigError
from qinstruct.data.loaders import DataError
from qinstruct.demo.world import ensure_world, world_ready
from qinstruct.stats.dataset import StatsDataset, load_stats_dataset, parse_scales
from qinstruct.stats.figures import to_png
from qinstruct.stats.report import StatsConfig, compute_report, export_report
from qinstruct.stats.table1 import format_table1
from qinstruct.workspace import new_run_id

from ..context import AppContext

DEMO, FILES = "Embedded demo world", "Files"
STATUS_ID = "stats-status"
TABLE_ID = "stats-table1"
FIGURE_IDS = {name: f"stats-{name.replace('_', '-')}" for name in
              ("mos_histograms", "feedback_lengths", "word_cloud", "lowlevel_words", "attributes_per_source",
               "conclusion_by_mos")}
FIGURE_LABELS = {"mos_histograms": "MOS per source (original vs balanced)", "feedback_lengths": "Feedback length (Fig. 3b)",
                 "word_cloud": "Word cloud (Fig. 3c)", "lowlevel_words": "Top low-level words (Fig. 3d)",
                 "attributes_per_source": "Attributes per source", "conclusion_by_mos": "Conclusion by MOS band"}


@functools.lru_cache(maxsize=8)
def _load_cached(specs: tuple[str, ...], scales: tuple[str, ...], stamps: tuple[float, ...]) -> StatsDataset:
    # stamps (modification times) make an edited file load again
    return load_stats_dataset(list(specs), parse_scales(list(scales)), skip_invalid=True)


def load_selection(specs: list[str], scales: list[str]) -> StatsDataset:
    stamps = tuple(os.path.getmtime(spec.partition("=")[0]) if os.path.exists(spec.partition("=")[0]) else 0.0
                   for spec in specs)
    return _load_cached(tuple(specs), tuple(scales), stamps)


def _as_image(figure) -> Image.Image:
    return figure if isinstance(figure, Image.Image) else Image.open(io.BytesIO(to_png(figure)))


def create_tab(ctx: AppContext, blocks: gr.Blocks) -> None:
    world = ctx.workspace.demo_world

    def specs_for(kind: str, uploads, paths: str) -> list[str]:
        if kind == DEMO:
            if not world_ready(world):
                raise gr.Error("The demo world is not built yet: press “Build demo world”.")
            return [str(world / "pathway.jsonl")]
        specs = [str(Path(f)) for f in uploads or []]
        specs += [line.strip() for line in (paths or "").splitlines() if line.strip()]
        if not specs:
            raise gr.Error("Upload files or type paths (one per line, FILE or FILE=SOURCE).")
        return specs

    def load(kind, uploads, paths, scales_text):
        specs = specs_for(kind, uploads, paths)
        scales = [s.strip() for s in (scales_text or "").split(",") if s.strip()]
        try:
            data = load_selection(specs, scales)
        except (DataError, ValueError, ConfigError) as error:
            raise gr.Error(str(error)) from None
        if not len(data):
            raise gr.Error("No valid rows: " + ("; ".join(data.problems) or "the files are empty"))
        for problem in data.problems:
            gr.Warning(problem)
        sources = data.source_names()
        return {"specs": specs, "scales": scales}, gr.CheckboxGroup(choices=sources, value=sources)

    def update(selection, sources, mos_min, mos_max, budget, bins, seed):
        if not selection:
            raise gr.Error("Load a dataset first.")
        config = StatsConfig(files=selection["specs"], scales=selection["scales"], sources=list(sources or []),
                             mos_min=float(mos_min), mos_max=float(mos_max), budget=int(budget or 0),
                             bins=int(bins), seed=int(seed or 0))
        try:
            report = compute_report(load_selection(config.files, config.scales), config)
        except (ConfigError, DataError, ValueError) as error:
            raise gr.Error(str(error)) from None
        text = report.text
        status = (f"**{len(report.data):,} images**, {len(report.data.source_names())} source(s), "
                  f"{text.n_feedbacks:,} feedbacks ({text.mean_words:.1f} words on average) · computed in "
                  f"{report.seconds:.2f} s")
        if report.sampled is not None:
            status += " · flatness original → balanced: " + ", ".join(
                f"{s} {b:.2f}→{a:.2f}" for s, (b, a) in report.flatness().items())
        out_dir = ctx.workspace.reports / new_run_id("report-")
        archive = export_report(report, out_dir)
        figures = [_as_image(report.images[name]) for name in FIGURE_IDS]
        return (status, format_table1(report.table, report.sampled_table), *figures,
                gr.DownloadButton(value=str(archive), interactive=True))

    def build_demo(progress=gr.Progress()):
        ensure_world(world, progress=lambda done, total: progress((done, total), unit="images"))
        return gr.Radio(value=DEMO)

    with gr.Tab("Statistics", id="stats"):
        selection = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                kind = gr.Radio([DEMO, FILES], value=DEMO, label="Dataset")
                with gr.Group(visible=False) as files_group:
                    uploads = gr.File(label="Upload files", file_count="multiple", file_types=[".json", ".jsonl"])
                    paths = gr.Textbox(label="…or paths on this machine, one per line (FILE or FILE=SOURCE)", lines=3)
                    scales = gr.Textbox(label="Rescale (SOURCE=FACTOR, comma separated; default inferred)")
                load_button = gr.Button("Load", variant="primary")
                build_button = gr.Button("Build demo world", visible=not world_ready(world))
                sources = gr.CheckboxGroup([], label="Sources")
                mos_min = gr.Slider(0, 100, value=0, step=1, label="MOS from")
                mos_max = gr.Slider(0, 100, value=100, step=1, label="MOS to")
                budget = gr.Number(0, precision=0, minimum=0, label="Balanced sample per source (0: off)")
                with gr.Row():
                    bins = gr.Slider(4, 20, value=10, step=1, label="MOS bins")
                    seed = gr.Number(0, precision=0, minimum=0, label="Sampler seed")
                refresh = gr.Button("Update")
                download = gr.DownloadButton("Download report (.zip: PNG, CSV, Markdown)", interactive=False)
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id=STATUS_ID, elem_classes=["qi-status"])
                table = gr.Markdown(elem_id=TABLE_ID)
                images = {}
                for row in (("mos_histograms",), ("feedback_lengths", "word_cloud"),
                            ("lowlevel_words", "conclusion_by_mos"), ("attributes_per_source",)):
                    with gr.Row():
                        for name in row:
                            images[name] = gr.Image(label=FIGURE_LABELS[name], show_label=False, type="pil",
                                                    interactive=False, elem_id=FIGURE_IDS[name],
                                                    buttons=["download", "fullscreen"])

    outputs = [status, table, *[images[name] for name in FIGURE_IDS], download]
    filters = [selection, sources, mos_min, mos_max, budget, bins, seed]
    kind.change(lambda k: gr.Group(visible=k == FILES), kind, files_group, api_name=False)
    load_button.click(load, [kind, uploads, paths, scales], [selection, sources], api_name="stats_load") \
        .then(update, filters, outputs, api_name=False)
    refresh.click(update, filters, outputs, api_name="stats_update")
    for control in (sources, budget, bins, seed):
        control.input(update, filters, outputs, api_name=False)
    for slider in (mos_min, mos_max):
        slider.release(update, filters, outputs, api_name=False)
    build_button.click(build_demo, None, kind, api_name=False).then(lambda: gr.Button(visible=False), None,
                                                                     build_button, api_name=False)

    def initial():
        if not world_ready(world):
            return None, gr.CheckboxGroup(), "The demo world is not built yet: press “Build demo world”.", \
                *([None] * (len(outputs) - 1))
        chosen = {"specs": specs_for(DEMO, None, ""), "scales": []}
        names = load_selection(chosen["specs"], []).source_names()
        return chosen, gr.CheckboxGroup(choices=names, value=names), *update(chosen, names, 0, 100, 0, 10, 0)

    blocks.load(initial, None, [selection, sources, *outputs], api_name=False)
