"""Tune tab: a form built from TrainConfig, its YAML and shell line live, Start / Resume / Abort of a run in its own
process (the job launcher), its progress, loss curve (one line per attempt) and log read back from the run folder
(a reload re-attaches), Open in Chat."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from qinstruct.config import ConfigError, config_to_yaml, job_fields, shell_line
from qinstruct.convert.job import ITEMS, ConvertJobConfig
from qinstruct.errors import UserError
from qinstruct.train.config import TrainConfig
from qinstruct.train.launch import per_machine_commands
from qinstruct.train.studio import studio_config
from qinstruct.train.trainer import MODEL

from ..context import AppContext, actor, user_event
from ..forms import config_form, form_values, named, reports_errors
from ..watching import CONFIRM_ABORT_JS, chosen_run, latest_live, not_confirmed, run_choices

STATUS_ID, PLOT_ID, PREVIEW_ID, DEMO_STATUS_ID = "tune-status", "tune-plot", "tune-preview", "tune-demo-status"
PREVIEW_BUTTON_ID, PREVIEW_BOX_ID, MESSAGE_ID = "tune-preview-button", "tune-preview-box", "tune-message"
INTRO_ID = "tune-intro"
START_ID, ABORT_ID, RESUME_ID, RUNS_ID = "tune-start", "tune-abort", "tune-resume", "tune-runs"
SKIP = ("output_dir",)  # the run's folder is its name under the workspace's runs/
JOBS = (TrainConfig,)  # the runs this tab lists
# The demo run is assets/configs/train_demo_cpu.yaml, the example a shell user runs: the paper's "after" strategy on
# the shipped micro baseline with the demo world's offline conversion, about 40 s on 2 CPU cores.
DEMO_PRESET = Path(__file__).resolve().parents[2] / "assets" / "configs" / "train_demo_cpu.yaml"
# measured by scripts/bench_tune_demo.py (BENCHMARKS.md), not guessed
DEMO_TIMING = "about 40 s from Start to a saved model on 2 idle cores, 100 steps whose eval loss falls from 3.9 to 3.0"
IN_WORKSPACE = "workspace/"  # the example names paths as they are after ./scripts/studio; the form takes them
                             # relative to the workspace, as a user types them


def demo_preset() -> dict:
    """The example's values, its paths relative to the workspace."""
    from qinstruct.config import read_yaml_mapping

    def relative(value):
        if isinstance(value, list):
            return [relative(v) for v in value]
        return value[len(IN_WORKSPACE):] if isinstance(value, str) and value.startswith(IN_WORKSPACE) else value

    return {key: relative(value) for key, value in read_yaml_mapping(DEMO_PRESET).items()}


def demo_values(ctx: AppContext | None = None) -> dict:
    """The form's values for the demo run (its run folder is the name box's)."""
    return {k: v for k, v in demo_preset().items() if k not in SKIP}


def demo_conversion_folder(ctx: AppContext) -> Path:
    """Where the demo's low-level data is converted: the folder of the file the demo run reads."""
    return ctx.workspace.root / Path(demo_preset()["low_level"][0]).parent


def field_names() -> list[str]:
    return [field.name for field in job_fields(TrainConfig) if field.name not in SKIP]


def config_of(ctx: AppContext, name: str, values: tuple, who: str | None = None) -> TrainConfig:
    """The run the form asks for, as it would start (its data confined and present)."""
    return ctx.jobs.admit(studio_config(form_values(TrainConfig, field_names(), values), ctx.access,
                                        ctx.workspace.runs, name, operator=who is None))


def preview(ctx: AppContext, name, request: gr.Request, *values):
    try:
        config = config_of(ctx, name, values, ctx.user)
    except UserError as error:
        return f"# not ready: {error}", f"Not ready yet: {error}"  # a live hint while typing, not an error line
    top = ctx.workspace.top
    text = f"Same run from a shell (from the workspace folder): `{shell_line(config, top)}`"
    if config.launcher == "accelerate":
        commands = per_machine_commands(config, str(Path(config.output_dir) / "config.yaml"))
        text += "\n\nWhat each machine runs:\n\n" + "\n".join(
            f"- machine {rank}: `{command.replace(str(top) + '/', '')}`" for rank, command in enumerate(commands))
    return config_to_yaml(config).replace(str(top) + "/", ""), text


def demo_conversion(ctx: AppContext) -> ConvertJobConfig:
    return ConvertJobConfig(input=str(ctx.workspace.demo_file("pathway")), out=str(demo_conversion_folder(ctx)))


def demo_data_line(ctx: AppContext) -> str:
    """Where the demo's low-level data stands (the Start button needs it)."""
    folder = demo_conversion_folder(ctx)
    if (folder / ITEMS).is_file():
        return "Demo data: ready."
    job = ctx.jobs.view(folder, ctx.user)
    if job is not None and job.status.live:
        return f"Demo data: being prepared ({job.state}" + (f", {job.step:,} / {job.total:,} feedbacks)"
                                                            if job.total else ")")
    return "Demo data: not prepared yet — press “Prepare the demo's data” before starting the demo run."


@reports_errors(line=0)
def prepare_demo(ctx: AppContext):
    """The demo's low-level data: the demo world's feedbacks through the offline converter, as a job of the user
    who asks (in their namespace: what another user converted under that name is never read)."""
    config = demo_conversion(ctx)
    if (Path(config.out) / ITEMS).is_file():
        return "Demo data: ready."
    job = ctx.jobs.view(config.out, ctx.user)
    if job is not None and job.status.live:
        return demo_data_line(ctx)
    ctx.jobs.start(config, ctx.user)
    return f"Demo data: being prepared (`{shell_line(config, ctx.workspace.top)}`)"


@reports_errors(line=1, outputs=2)
def start(ctx: AppContext, name, request: gr.Request, *values):
    who = actor(request)
    try:
        config = config_of(ctx, name, values, who)
    except ConfigError as error:
        demo = demo_conversion_folder(ctx)
        if demo.name in str(error) and not (demo / ITEMS).is_file():
            raise ConfigError(f"{error}. {demo_data_line(ctx)}") from None  # the button is right there
        raise
    message = ctx.jobs.start(config, who)
    runs = run_choices(ctx, who, JOBS, ctx.workspace.runs)
    return gr.Dropdown(choices=runs, value=Path(config.output_dir).name), f"**{message}**"


@reports_errors(line=0)
def resume(ctx: AppContext, run, request: gr.Request = None):
    who = actor(request)
    return ctx.jobs.resume(chosen_run(ctx, who, JOBS, ctx.workspace.runs, run), who)


@reports_errors(line=0)
def abort(ctx: AppContext, run, request: gr.Request = None):
    if not_confirmed(run):
        return "Not aborted."
    who = actor(request)
    return ctx.jobs.abort(chosen_run(ctx, who, JOBS, ctx.workspace.runs, run), who)


SMOOTH_FROM, SMOOTHING = 5, 0.85  # an exponential moving average, as TensorBoard and LlamaBoard draw one


def smoothed(values, weight: float = SMOOTHING) -> list[float]:
    """The moving average a speaker points at; its first value is the first loss, not a zero pulled upwards."""
    out, average = [], values[0]
    for value in values:
        average = weight * average + (1 - weight) * value
        out.append(average)
    return out


def loss_figure(job):
    """The loss per attempt: a run resumed from a checkpoint continues its line; one that started over draws
    a new one (never a line going back to step 1)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 3.2), dpi=100, layout="tight")
    axes = figure.add_subplot()
    latest = max([*job.losses, *job.eval_losses], default=1)
    for attempt, points in sorted(job.losses.items()):
        if attempt != latest:
            axes.plot(*zip(*points), color="#d6d3d1", label=f"train (attempt {attempt})")
            continue
        steps, values = zip(*points)
        axes.plot(steps, values, color="#fdba74", linewidth=0.8, label="train, each step")
        if len(points) >= SMOOTH_FROM:  # one batch's loss swings with what it holds (yes/no vs a paragraph)
            axes.plot(steps, smoothed(values), color="#ea580c", linewidth=2.2, label="train, smoothed")
    for attempt, points in sorted(job.eval_losses.items()):
        axes.plot(*zip(*points), "o-", color="#2563eb" if attempt == latest else "#93c5fd",
                  label="eval" if attempt == latest else f"eval (attempt {attempt})")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps, not 1.25
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(f"{job.name}: {job.state}", fontsize=10)
    if job.losses or job.eval_losses:
        axes.legend(loc="upper right", fontsize=8)
    axes.grid(alpha=0.3)
    return figure


def watch(ctx: AppContext, run, drawn, request: gr.Request = None):
    """The chosen run as its folder says (a timer calls this every second; unchanged runs are not redrawn)."""
    who = actor(request)
    job = ctx.jobs.view(ctx.workspace.runs / run, who) if run and run in run_choices(
        ctx, who, JOBS, ctx.workspace.runs) else None
    demo = demo_data_line(ctx)
    if job is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), demo, drawn
    key = (run, job.state, job.step, job.status.attempt, job.last_eval_loss, job.waiting_behind)
    if key == drawn:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), demo, drawn
    status = job.line() + (f"  \n{job.mixture}" if job.mixture else "")
    finished = (job.path / MODEL / "qinstruct.json").is_file()
    return status, loss_figure(job), job.log_tail, gr.Button(visible=finished), demo, key


def runs_list(ctx: AppContext, request: gr.Request = None):
    """On page load: the user's runs; the one still running (if any) is re-attached, nothing else is chosen."""
    who = actor(request)
    return gr.Dropdown(choices=run_choices(ctx, who, JOBS, ctx.workspace.runs),
                       value=latest_live(ctx, who, JOBS, ctx.workspace.runs))


def open_in_chat(ctx: AppContext, run, request: gr.Request = None):
    folder = chosen_run(ctx, actor(request), JOBS, ctx.workspace.runs, run)
    if not (folder / MODEL / "qinstruct.json").is_file():
        raise gr.Error("This run has no finished model yet.")
    return gr.Dropdown(value=ctx.workspace.relative(folder / MODEL)), gr.Tabs(selected="chat")


INTRO = ("Instruction tuning with the paper's strategies. The demo run opening this form tunes the demo's model on "
         "its world's data on the CPU: {timing} (prepare its data once). While a run trains, its ETA is measured from "
         "its own steps.")


def create_tab(ctx: AppContext, blocks: gr.Blocks, page: dict) -> None:
    """The buttons of a run sit together at the top (LlamaBoard's order): a 2,500-px form used to put Start at the
    bottom of the page; the form below them, the run's status and loss beside it."""
    with gr.Tab("Tune", id="tune"):
        gr.Markdown(INTRO.format(timing=DEMO_TIMING), elem_id=INTRO_ID)
        with gr.Row(elem_id="tune-buttons"):
            name = gr.Textbox(Path(demo_preset()["output_dir"]).name, scale=2,
                              label="Run name (its folder under the workspace's runs/)")
            preview_button = gr.Button("Preview", elem_id=PREVIEW_BUTTON_ID, scale=1)
            start_button = gr.Button("Start", variant="primary", elem_id=START_ID, scale=1)
            run = gr.Dropdown([], label="Your runs", elem_id=RUNS_ID, scale=2,
                              allow_custom_value=True)  # runs appear after the page was built
            resume_button = gr.Button("Resume", elem_id=RESUME_ID, scale=1)
            abort_button = gr.Button("Abort…", variant="stop", elem_id=ABORT_ID, scale=1)
        message = gr.Markdown(elem_id=MESSAGE_ID)
        with gr.Accordion("The run as config.yaml and as a command", open=False,
                          elem_id=PREVIEW_BOX_ID) as preview_box:
            shell = gr.Markdown()
            yaml_view = gr.Code(label="config.yaml", language="yaml", elem_id=PREVIEW_ID)
        with gr.Row():
            with gr.Column(scale=2, min_width=360):
                with gr.Row():
                    prepare = gr.Button("Prepare the demo's data (offline conversion)", size="sm")
                demo_status = gr.Markdown(elem_id=DEMO_STATUS_ID)
                controls = config_form(TrainConfig, demo_values(ctx), skip=SKIP)
            with gr.Column(scale=3):
                status = gr.Markdown(elem_id=STATUS_ID, elem_classes=["qi-status"])
                plot = gr.Plot(label="Loss", elem_id=PLOT_ID)
                chat_button = gr.Button("Open in Chat (tuned side)", visible=False)
                log_tail = gr.Code(label="Log (last lines)", language=None, lines=8)
        # made inside the Tab: a component made between tabs becomes a tab
        drawn, nothing_drawn = gr.State(None), gr.State(None)
        timer = gr.Timer(1.0)

    preview_button.click(lambda: gr.Accordion(open=True), None, preview_box, api_name=False, queue=False)
    inputs = [name, *[controls[n] for n in field_names()]]
    form_preview = named(user_event(preview, ctx), field_names())
    for control in inputs:
        control.change(form_preview, inputs, [yaml_view, shell], api_name=False)
    prepare.click(user_event(prepare_demo, ctx), None, demo_status, api_name="tune_prepare_demo")
    start_button.click(named(user_event(start, ctx), field_names()), inputs, [run, message], api_name="tune_start")
    resume_button.click(user_event(resume, ctx), run, message, api_name="tune_resume")
    abort_button.click(user_event(abort, ctx), run, message, api_name="tune_abort", js=CONFIRM_ABORT_JS)
    watched = [status, plot, log_tail, chat_button, demo_status, drawn]
    timer.tick(user_event(watch, ctx), [run, drawn], watched, api_name=False, show_progress="hidden")
    run.change(user_event(watch, ctx), [run, nothing_drawn], watched, api_name="tune_watch")
    blocks.load(user_event(runs_list, ctx), None, run, api_name=False) \
        .then(form_preview, inputs, [yaml_view, shell], api_name=False)
    page["tune-open-in-chat"] = (chat_button, user_event(open_in_chat, ctx), run)


def wire(ctx: AppContext, page: dict) -> None:
    """After every tab exists: Open in Chat puts the finished run on the Chat tab's tuned side."""
    button, handler, run = page["tune-open-in-chat"]
    blind, named_sides = page["chat-named"]
    button.click(handler, run, [page["chat-right"], page["tabs"]], api_name="tune_open_in_chat").success(
        named_sides, None, blind, api_name=False)
