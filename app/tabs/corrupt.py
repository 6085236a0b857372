"""Corrupt tab: the corruption x severity grid of one image, a large view, downloads, and folder batches."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from qinstruct.config import check_config, config_from_mapping, job_fields
from qinstruct.config.render import shell_line
from qinstruct.corrupt import SEVERITIES, list_corruptions
from qinstruct.corrupt.batch import MANIFEST, CorruptJobConfig
from qinstruct.corrupt.grid import GridConfig, GridResult, load_grid, run_grid, zip_grid
from qinstruct.images import load_rgb
from qinstruct.models.seen import input_side, rate_cells, seen_for_scoring
from qinstruct.models.tasks import RateConfig
from qinstruct.photos import demo_photo, list_demo_photos

from ..components import CheckedImage, checked_uploads, forget_demo_photo
from ..context import AppContext, actor, model_dropdowns, user_event
from ..forms import bounds, config_form, default_of, form_values, label, named, reports_errors, shell_note
from ..watching import batch_step, run_folder, stop_step

# element ids, used by the browser tests
IMAGE_ID = "corrupt-image"
RUN_ID = "corrupt-run"
GALLERY_ID = "corrupt-gallery"
STATUS_ID = "corrupt-status"
SELECTED_ID = "corrupt-selected"
ORIGINAL_ID = "corrupt-original"
BATCH_STATUS_ID, BATCH_PROGRESS_ID = "corrupt-batch-status", "corrupt-batch-progress"
SCORE_ID, SCORES_ID, SEEN_ID = "corrupt-score", "corrupt-scores", "corrupt-seen"
SEVERITIES_ID, BATCH_FILES_ID = "corrupt-severities", "corrupt-batch-files"

SIZE_CHOICES = [("512 px (fast)", 512), ("1024 px", 1024), ("original size (up to 16 MP)", 0)]
DEFAULT_PHOTO = "astronaut"
GRID_LABEL = "Corruption × severity"
# a clicked cell's comparison sits below the score column: brought into view, where the user looks
SHOW_SELECTED_JS = (f"() => {{ setTimeout(() => document.getElementById('{ORIGINAL_ID}')"
                    ".scrollIntoView({behavior: 'smooth', block: 'start'}), 300); }")


def _grid_outputs(result: GridResult, reused: bool, n_severities: int):
    items = [(str(result.path(c.preview)), c.caption) for c in result.cells]
    kernel_ms = sum(c.milliseconds for c in result.cells)
    width, height = result.size
    status = (
        f"**{len(result.cells)} cells** · {width}×{height} px · seed {result.seed} · "
        + (f"computed in {result.wall_milliseconds:.0f} ms (kernels {kernel_ms:.0f} ms summed) · "
           if not reused else "same image and settings as before: shown from the workspace · ")
        + "click a cell to compare it with the original. Python: `qinstruct.corrupt.corrupt(image, name, severity, "
        f"seed={result.seed})`"
    )
    return (
        gr.Gallery(value=items, columns=n_severities if n_severities > 1 else 5),
        status,
        str(result.folder),
        str(result.path(result.original)),
        None,
        gr.DownloadButton(value=None, interactive=False),
    )


@reports_errors(line=1, outputs=6)  # the grid's status line
def make_grid(ctx: AppContext, image, corruptions, severities, seed, max_side):
    """The grid; while it is computed, no cells of the last one.  A choice the grid refuses is said before
    anything is cleared, so the last grid stays on the screen beside the message."""
    if image is None:
        raise gr.Error("Upload an image or pick a demo photo first.")
    config = GridConfig(corruptions=list(corruptions or []), severities=sorted(int(s) for s in severities or []),
                        seed=int(seed or 0), max_side=int(max_side))
    check_config(config, "the form")
    yield gr.Gallery(value=None), "Corrupting…", gr.skip(), gr.skip(), gr.skip(), gr.skip()
    result, reused = run_grid(image, config, ctx.workspace.grids)
    yield _grid_outputs(result, reused, len(config.severities))


def scores_table(result: GridResult, labels: list[str], ratings: list[list], view: str) -> str:
    """P(good) and the Q-Align score of each cell, one row per corruption, 'model 1 / model 2' in each cell."""
    severities = sorted({c.severity for c in result.cells})
    by_cell = {(c.corruption, c.severity): k + 1 for k, c in enumerate(result.cells)}  # 0 is the original

    def both(index: int) -> str:
        return " / ".join(f"{r[index].p_good:.2f} ({r[index].score5:.1f})" for r in ratings)

    lines = [f"P(good) (Q-Align score /5) of **{' / '.join(labels)}**, {view}. Original: {both(0)}", "",
             "| corruption | " + " | ".join(f"s{s}" for s in severities) + " |",
             "|---|" + "---:|" * len(severities)]
    for name in dict.fromkeys(c.corruption for c in result.cells):
        lines.append(f"| {name} | " + " | ".join(both(by_cell[name, s]) if (name, s) in by_cell else ""
                                                 for s in severities) + " |")
    return "\n".join(lines)


@reports_errors(line=1, outputs=2)
def score_grid(ctx: AppContext, folder: str, left: str, right: str):
    """Each grid cell rated by two models (the shipped micro baseline and tuned ones by default)."""
    if not folder:
        raise gr.Error("Make a grid first.")
    if not left or not right:
        raise gr.Error("Choose a model on each side.")
    result = load_grid(Path(folder))
    cells = [(c.corruption, c.severity) for c in result.cells]
    original = load_rgb(result.path(result.original))
    sides = ctx.pool.pair(left, right).sides
    ratings = rate_cells(sides, original, cells, result.seed)
    names_of = [side.label.split(":")[0] for side in sides]
    items = [(str(result.path(c.preview)), f"{c.corruption} s{c.severity} · " + " · ".join(
        f"{name} {r[k + 1].p_good:.2f}" for name, r in zip(names_of, ratings))) for k, c in enumerate(result.cells)]
    view = scoring_view(sides, original)
    image = ctx.workspace.shown(result.path(result.original))
    names, severities = list(dict.fromkeys(n for n, _ in cells)), sorted({s for _, s in cells})
    commands = [RateConfig(images=[image], model=ctx.workspace.shown(ctx.access.resolve_spec_text(side.spec)),
                           corruptions=names, severities=severities, seed=result.seed) for side in sides]
    shell = "\n".join(f"- `{shell_line(command)}`" for command in commands)
    table = scores_table(result, names_of, ratings, view)
    label = f"{GRID_LABEL} · P(good) of {' / '.join(names_of)}, {view}"
    return gr.Gallery(value=items, label=label), f"{table}\n\nSame scores from a shell (in the workspace):\n\n{shell}"


def scoring_view(sides, image) -> str:
    """The view the score column rates, said beside its numbers: the Chat tab's Rate of a large photograph
    averages a micro model's native 64-px tiles, another view of the same image and another number."""
    sizes = {input_side(side) if getattr(side, "kind", "local") == "local" else None for side in sides}
    if None in sizes or len(sizes) != 1:
        return "each cell as each model receives it (the models differ: see what each sees below)"
    size = sizes.pop()
    width, height = image.size
    return (f"each cell seen whole at {size}×{size} px (this {width}×{height} px image shrunk to the models' input, "
            "corrupted there; Chat's Rate of a larger image averages native-resolution tiles: another view)")


@reports_errors(line=1, outputs=2)
def scorers_view(ctx: AppContext, folder: str, left: str, right: str):
    """What each scoring model sees of the grid's image: a 64-px thumbnail, a 336-px square, tiles..."""
    if not folder or not left or not right:
        return gr.Gallery(value=None, visible=False), ""
    result = load_grid(Path(folder))
    original = load_rgb(result.path(result.original))
    sides = ctx.pool.pair(left, right).sides
    seen = [seen_for_scoring(side, original, f"Model {k}") for k, side in enumerate(sides, 1)]
    pictures = [(picture, view.name) for view in seen for picture in view.images]
    return gr.Gallery(value=pictures or None, visible=bool(pictures)), "  \n".join(v.caption for v in seen)


def default_grid(ctx: AppContext):
    image = demo_photo(DEFAULT_PHOTO)
    config = GridConfig()
    return (image, *_grid_outputs(*run_grid(image, config, ctx.workspace.grids), len(config.severities)))


def select_cell(folder: str, evt: gr.SelectData):
    if not folder:
        return None, None, gr.DownloadButton(interactive=False), ""
    result = load_grid(Path(folder))
    cell = result.cells[evt.index]
    png = str(result.path(cell.image))
    return str(result.path(result.original)), png, gr.DownloadButton(value=png, interactive=True), cell.caption


def prepare_zip(folder: str):
    if not folder:
        return gr.DownloadButton(interactive=False)
    result = load_grid(Path(folder))
    return gr.DownloadButton(value=str(zip_grid(result, result.folder / "grid.zip")), interactive=True)


# the batch's fields this tab lays out itself (the source, the run folder, those it shares with the grid); the
# others come from CorruptJobConfig under "More batch options"
BATCH_OWN = ("source", "out", "corruptions", "severities", "seed", "random_assign", "workers")


def more_names() -> list[str]:
    return [f.name for f in job_fields(CorruptJobConfig) if f.name not in BATCH_OWN]


def batch_config(ctx: AppContext, files, folder_text, corruptions, severities, seed, random_assign, workers,
                 name, more: tuple = ()) -> tuple[CorruptJobConfig, list[str]]:
    """The batch's job config from the form, as it would start (its source confined and present), and the
    uploaded names refused (not image files)."""
    out_dir = ctx.workspace.batch_folder(name)
    refused: list[str] = []
    if files:
        source, refused = ctx.workspace.keep_uploads(out_dir.name, [str(f) for f in files])
    elif folder_text and folder_text.strip():
        source = folder_text.strip()
    else:
        raise gr.Error("Upload images or type a folder in the workspace.")
    severities = sorted(int(s) for s in severities or [])
    config = config_from_mapping(CorruptJobConfig, {
        "source": str(source), "out": str(out_dir), "corruptions": [] if random_assign else list(corruptions or []),
        **({"severities": severities} if not random_assign else {}), "random_assign": bool(random_assign),
        "seed": int(seed or 0), "workers": int(workers), **form_values(CorruptJobConfig, more_names(), more)},
        "the form")
    return ctx.jobs.admit(config), refused


@reports_errors(line=0, outputs=2)
def run_batch(ctx: AppContext, files, folder_text, corruptions, severities, seed, random_assign, workers, name,
              request: gr.Request, *more):
    """Start the batch as a job (its own process; the same name continues it) and watch it."""
    config, refused = batch_config(ctx, files, folder_text, corruptions, severities, seed, random_assign, workers,
                                   name, more)
    message = ctx.jobs.start(config, actor(request))
    lines = [f"**{message}**", shell_note(config, ctx.workspace)]
    lines += [f"- skipped: {name}: not an image file (not copied)" for name in refused[:20]]
    return "\n\n".join(lines), Path(config.out).name


def watch_batch(ctx: AppContext, batch, drawn, request: gr.Request = None):
    """The batch this page started, as its run folder says; when it has ended, what was written and skipped."""
    folder = run_folder(ctx.workspace.batches, batch)
    return batch_step(ctx, folder, actor(request), drawn, batch_summary)


def batch_summary(job) -> tuple[str, object]:
    summary = job.status.summary or {}
    lines = [job.line()]
    if summary:
        lines.append(f"**{summary.get('written', 0)} written**, {summary.get('already_done', 0)} already done "
                     f"(resumed), {summary.get('skipped_sources', 0)} source(s) skipped")
    lines += [f"- {line}" for line in job.log_tail.splitlines() if line.startswith(("skipped", "note"))][:20]
    manifest = job.path / MANIFEST
    download = gr.DownloadButton(value=str(manifest), interactive=True) if manifest.is_file() else gr.skip()
    return "\n\n".join(lines), download


@reports_errors(line=0)
def stop_batch(ctx: AppContext, batch, confirmed, request: gr.Request = None):
    folder = run_folder(ctx.workspace.batches, batch)
    return stop_step(ctx, folder, actor(request), confirmed, "No batch of yours is running here.")


def create_tab(ctx: AppContext, blocks: gr.Blocks, page: dict) -> None:
    score_defaults = ctx.default_models()
    model_choices = ctx.model_choices(page=True)
    with gr.Tab("Corrupt", id="corrupt"):
        grid_folder = gr.State("")
        with gr.Row():
            form = _grid_form_column()
            view = _grid_view_column(model_choices, score_defaults)
        batch_form = _batch_section()
        batch, batch_drawn, confirmed = gr.State(""), gr.State(None), gr.Textbox(visible=False)
        batch_timer = gr.Timer(1.0, active=False)  # on while a batch of this page runs
    _wire_corrupt_events(ctx, blocks, grid_folder=grid_folder, batch=batch, batch_drawn=batch_drawn,
                         confirmed=confirmed, batch_timer=batch_timer, **form, **view, **batch_form)


def _grid_form_column() -> dict:
    """Lays out the left column: the image, the demo photo, corruptions, severities, seed, size, the Corrupt button."""
    with gr.Column(scale=1, min_width=300):
        image = CheckedImage(label="Image", type="pil", image_mode=None, sources=["upload", "clipboard"],
                             height=280, elem_id=IMAGE_ID)
        photo = gr.Dropdown(list_demo_photos(), value=DEFAULT_PHOTO, label="…or a demo photo (scikit-image)")
        corruptions = gr.CheckboxGroup(list_corruptions(), value=list_corruptions("common"),
                                       label="Corruptions (the paper's 15 are ticked; 4 extra below them)")
        severities = gr.CheckboxGroup(list(SEVERITIES), value=default_of(CorruptJobConfig, "severities"),
                                      label="Severities", elem_id=SEVERITIES_ID)
        with gr.Row():
            seed = gr.Number(precision=0, label=label(CorruptJobConfig, "seed"), **bounds(CorruptJobConfig, "seed"))
            max_side = gr.Dropdown(SIZE_CHOICES, value=512, label="Working size")
        run = gr.Button("Corrupt", variant="primary", elem_id=RUN_ID)
    return dict(image=image, photo=photo, corruptions=corruptions, severities=severities, seed=seed,
                max_side=max_side, run=run)


def _grid_view_column(model_choices, score_defaults) -> dict:
    """Lays out the right column: the status, the grid, the large views, downloads and scoring with two models."""
    with gr.Column(scale=2):
        status = gr.Markdown(elem_id=STATUS_ID, elem_classes=["qi-status"])
        gallery = gr.Gallery(label=GRID_LABEL, columns=5, height="auto", allow_preview=False,  # every row
                             object_fit="cover", elem_id=GALLERY_ID)  # (main.py's CSS lifts Gradio's cap)
        with gr.Accordion("Score each cell with two models (P(good) and the Q-Align 5-level score)", open=True):
            with gr.Row():
                score_left = gr.Dropdown(model_choices, value=score_defaults[0], allow_custom_value=True,
                                         label="Model 1 (the micro baseline by default)")
                score_right = gr.Dropdown(model_choices, value=score_defaults[1], allow_custom_value=True,
                                          label="Model 2 (the micro tuned model by default)")
                score_button = gr.Button("Score cells", elem_id=SCORE_ID)
            scores = gr.Markdown(elem_id=SCORES_ID)
            with gr.Row():
                seen = gr.Gallery(label="What the models see of the image", columns=2, height=150,
                                  visible=False, elem_id=SEEN_ID, interactive=False, object_fit="contain")
                seen_note = gr.Markdown()
        with gr.Row():
            original_view = gr.Image(label="Original", interactive=False, elem_id=ORIGINAL_ID, height=360)
            selected_view = gr.Image(label="Selected cell", interactive=False, elem_id=SELECTED_ID, height=360)
        caption = gr.Markdown()
        with gr.Row():
            download_cell = gr.DownloadButton("Download selected (PNG)", interactive=False)
            download_zip = gr.DownloadButton("Download grid (.zip with contact sheet)", interactive=False)
    return dict(status=status, gallery=gallery, original_view=original_view, selected_view=selected_view,
                caption=caption, download_cell=download_cell, download_zip=download_zip, score_left=score_left,
                score_right=score_right, score_button=score_button, scores=scores, seen=seen, seen_note=seen_note)


def _batch_section() -> dict:
    """Lays out the "Batch" accordion: the source, the batch's own options, Run and Stop, its progress."""
    with gr.Accordion("Batch: corrupt a folder (resumable, writes manifest.jsonl)", open=False):
        gr.Markdown("Uses the corruptions, severities and seed chosen above, or the paper's random assignment "
                    "(one of the 15 corruptions and a severity per image). Outputs go to the workspace; "
                    "running again with the same name resumes.")
        with gr.Row():
            batch_files = gr.File(label="Upload images", file_count="multiple", file_types=["image"],
                                  elem_id=BATCH_FILES_ID)
            batch_folder = gr.Textbox(label="…or a folder in the workspace (or one the operator allowed)",
                                      placeholder="demo/world/images/pristine")
        with gr.Row():
            random_assign = gr.Checkbox(label=label(CorruptJobConfig, "random_assign"))
            workers = gr.Slider(step=1, label=label(CorruptJobConfig, "workers"),
                                **bounds(CorruptJobConfig, "workers", ui_max=8))
            batch_name = gr.Textbox(label="Batch name (same name resumes)", placeholder="auto")
        more = config_form(CorruptJobConfig, {}, skip=BATCH_OWN, title="More batch options", open_groups=0,
                           prefix="batch-")
        with gr.Row():
            batch_run = gr.Button("Run batch")
            batch_stop = gr.Button("Stop…", variant="stop")
        batch_status = gr.Markdown(elem_id=BATCH_STATUS_ID)
        batch_progress = gr.Markdown(elem_id=BATCH_PROGRESS_ID)
        manifest = gr.DownloadButton("Download manifest.jsonl", interactive=False)
    return dict(batch_files=batch_files, batch_folder=batch_folder, random_assign=random_assign, workers=workers,
                batch_name=batch_name, more=more, batch_run=batch_run, batch_stop=batch_stop,
                batch_status=batch_status, batch_progress=batch_progress, manifest=manifest)


def _wire_corrupt_events(ctx: AppContext, blocks: gr.Blocks, *, grid_folder, batch, batch_drawn, confirmed,
                         batch_timer, image, photo, corruptions, severities, seed, max_side, run, status, gallery,
                         original_view, selected_view, caption, download_cell, download_zip, score_left,
                         score_right, score_button, scores, seen, seen_note, batch_files, batch_folder,
                         random_assign, workers, batch_name, more, batch_run, batch_stop, batch_status,
                         batch_progress, manifest) -> None:
    """Wires the Corrupt tab's events: the grid, its cells and downloads, scoring, the batch, the page load."""
    grid_outputs = [gallery, status, grid_folder, original_view, selected_view, download_cell]
    photo.input(demo_photo, photo, image, api_name="demo_photo")
    image.upload(forget_demo_photo, None, photo, api_name=False)
    checked_uploads(image, status)
    run.click(user_event(make_grid, ctx), [image, corruptions, severities, seed, max_side], grid_outputs,
              api_name="corrupt_grid").then(prepare_zip, grid_folder, download_zip, api_name=False)
    score_button.click(user_event(score_grid, ctx), [grid_folder, score_left, score_right], [gallery, scores],
                       api_name="corrupt_score", concurrency_id="device", concurrency_limit=1).success(
        user_event(scorers_view, ctx), [grid_folder, score_left, score_right], [seen, seen_note], api_name=False)
    gallery.select(select_cell, grid_folder, [original_view, selected_view, download_cell, caption], api_name=False)
    gallery.select(None, None, None, js=SHOW_SELECTED_JS, api_name=False)  # the comparison is under the scores
    batch_run.click(named(user_event(run_batch, ctx), more_names()),
                    [batch_files, batch_folder, corruptions, severities, seed, random_assign, workers, batch_name,
                     *[more[n] for n in more_names()]], [batch_status, batch], api_name="corrupt_batch") \
        .then(lambda: gr.Timer(active=True), None, batch_timer, api_name=False)
    batch_timer.tick(user_event(watch_batch, ctx), [batch, batch_drawn],
                     [batch_progress, manifest, batch_drawn, batch_timer],
                     api_name=False, show_progress="hidden")
    batch_stop.click(user_event(stop_batch, ctx), [batch, confirmed], batch_status, api_name="corrupt_batch_stop",
                     js="(batch, confirmed) => [batch, confirm('Stop this batch? Running it again with the same "
                        "name continues it.') ? 'yes' : '']")
    blocks.load(user_event(model_dropdowns, ctx, 2), None, [score_left, score_right], api_name=False)
    blocks.load(user_event(default_grid, ctx), None, [image, *grid_outputs], api_name=False) \
        .then(prepare_zip, grid_folder, download_zip, api_name=False)


def watch_batch_api(ctx: AppContext, batch: str, request: gr.Request = None) -> str:
    """For scripts and tests: the batch's progress text as the page shows it."""
    shown = watch_batch(ctx, batch, None, request)[0]
    return shown if isinstance(shown, str) else ""


def wire(ctx: AppContext, page: dict) -> None:
    """Outside the tabs (an API route is no tab): the job's view by name, for scripts and tests."""
    gr.api(user_event(watch_batch_api, ctx), api_name="corrupt_batch_watch")
