"""Tune tab: a form built from TrainConfig, its YAML and shell line live, Start / Resume / Abort of a background
run, its progress, loss curve and log read back from the run folder (a reload re-attaches), Open in Chat."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from qinstruct.config import config_to_yaml, load_config, shell_line
from qinstruct.convert.job import ConvertJobConfig, run_convert_job
from qinstruct.errors import UserError
from qinstruct.train.config import TrainConfig
from qinstruct.train.launch import per_machine_commands
from qinstruct.train.jobs import abort_run, launch_config, start_run, studio_config, train_runs, view_run

from ..context import AppContext
from ..forms import bind, config_form, form_values, named, reports_errors

STATUS_ID, PLOT_ID, PREVIEW_ID = "tune-status", "tune-plot", "tune-preview"
START_ID, ABORT_ID, RESUME_ID, RUNS_ID = "tune-start", "tune-abort", "tune-resume", "tune-runs"
SKIP = ("output_dir",)  # the run's folder is its name under the workspace's runs/
DEMO_CONVERSION = "demo-offline"


def demo_values(ctx: AppContext) -> dict:
    """The demo run: the paper's "after" strategy on the shipped micro baseline with the demo world's offline
    conversion, a few CPU minutes.  Paths are relative to the workspace, as a user types them."""
    from qinstruct.demo.shipped import BASELINE

    return {"model": f"models/{BASELINE}", "strategy": "after", "high_level": ["demo/world/instruct_content.json"],
            "low_level": [f"convert/{DEMO_CONVERSION}/items.json"], "image_root": "demo/world", "method": "lora",
            "lora_r": 16, "lora_alpha": 32, "max_steps": 80, "batch_size": 8, "learning_rate": 1e-3,
            "eval_steps": 20, "save_steps": 20, "gradient_checkpointing": False, "device": "cpu",
            "group_by_length": False}  # on 2 cores padding costs little; grouping makes the demo's curve a sawtooth


def field_names() -> list[str]:
    return [name for names in TrainConfig.GROUPS.values() for name in names if name not in SKIP]


def config_of(ctx: AppContext, name: str, values: tuple) -> TrainConfig:
    return studio_config(form_values(TrainConfig, field_names(), values), ctx.access, ctx.workspace.runs, name)


def preview(ctx: AppContext, name, *values):
    try:
        config = config_of(ctx, name, values)
    except UserError as error:
        return f"# not ready: {error}", f"⚠ {error}"
    text = f"Same run from a shell: `{shell_line(config)}`"
    if config.launcher == "accelerate":
        commands = per_machine_commands(config, str(launch_config(Path(config.output_dir))))
        text += "\n\nWhat each machine runs:\n\n" + "\n".join(
            f"- machine {rank}: `{command}`" for rank, command in enumerate(commands))
    return config_to_yaml(config), text


@reports_errors
def prepare_demo(ctx: AppContext):
    """The demo's low-level data: the demo world's feedbacks through the offline converter (resumable)."""
    report = run_convert_job(ConvertJobConfig(input=str(ctx.workspace.demo_file("pathway")),
                                              out=str(ctx.workspace.conversion_folder(DEMO_CONVERSION))))
    return f"Demo data ready: {report.summary()}"


@reports_errors
def start(ctx: AppContext, name, *values):
    folder = start_run(config_of(ctx, name, values))
    return gr.Dropdown(choices=train_runs(ctx.workspace.runs), value=folder.name), f"**{folder.name}** started"


def run_folder(ctx: AppContext, run: str | None):
    """The folder of a run named in the page: one of the runs listed, never a path."""
    if not run or run not in train_runs(ctx.workspace.runs):
        raise gr.Error("Choose a run from the list.")
    return ctx.workspace.runs / run


@reports_errors
def resume(ctx: AppContext, run):
    start_run(load_config(TrainConfig, launch_config(run_folder(ctx, run))))
    return f"**{run}** resumes from its last checkpoint"


@reports_errors
def abort(ctx: AppContext, run):
    return abort_run(run_folder(ctx, run))


def loss_figure(view):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.2), dpi=100, layout="tight")
    axes = figure.add_subplot()
    if view.losses:
        axes.plot(*zip(*view.losses), label="train", color="#ea580c")
    if view.eval_losses:
        axes.plot(*zip(*view.eval_losses), "o-", label="eval", color="#2563eb")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(f"{view.name}: {view.state}", fontsize=10)
    if view.losses or view.eval_losses:
        axes.legend(loc="upper right")
    axes.grid(alpha=0.3)
    return figure


def watch(ctx: AppContext, run, seen):
    """The chosen run as its folder says (a timer calls this every second; unchanged runs are not redrawn)."""
    if not run or run not in train_runs(ctx.workspace.runs):
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen
    view = view_run(ctx.workspace.runs / run)
    key = (run, view.state, view.step, len(view.eval_losses))
    if key == seen:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen
    status = view.line() + (f"  \n{view.mixture}" if view.mixture else "")
    return (status, loss_figure(view), view.log_tail, gr.Button(visible=view.model_dir is not None), key)


def runs_list(ctx: AppContext):
    names = train_runs(ctx.workspace.runs)
    return gr.Dropdown(choices=names, value=names[0] if names else None)


def open_in_chat(ctx: AppContext, run):
    view = view_run(run_folder(ctx, run))
    if view.model_dir is None:
        raise gr.Error("This run has no finished model yet.")
    return gr.Dropdown(value=str(view.model_dir.relative_to(ctx.workspace.root))), gr.Tabs(selected="chat")


def create_tab(ctx: AppContext, blocks: gr.Blocks, page: dict) -> None:
    with gr.Tab("Tune", id="tune"):
        with gr.Row():
            with gr.Column(scale=2, min_width=360):
                gr.Markdown("Instruction tuning with the paper's strategies. The demo run below trains the demo's "
                            "model on its world's data on the CPU in a few minutes (prepare its data once).")
                name = gr.Textbox("demo-after", label="Run name (its folder under the workspace's runs/)")
                prepare = gr.Button("Prepare the demo's data (offline conversion)", size="sm")
                controls = config_form(TrainConfig, demo_values(ctx), skip=SKIP)
                with gr.Row():
                    start_button = gr.Button("Start", variant="primary", elem_id=START_ID)
            with gr.Column(scale=3):
                with gr.Row():
                    run = gr.Dropdown(train_runs(ctx.workspace.runs), label="Runs", elem_id=RUNS_ID, scale=3,
                                      allow_custom_value=True)  # runs appear after the page was built
                    resume_button = gr.Button("Resume", elem_id=RESUME_ID, scale=1)
                    abort_button = gr.Button("Abort", variant="stop", elem_id=ABORT_ID, scale=1)
                message = gr.Markdown()
                status = gr.Markdown(elem_id=STATUS_ID, elem_classes=["qi-status"])
                plot = gr.Plot(label="Loss", elem_id=PLOT_ID)
                chat_button = gr.Button("Open in Chat (tuned side)", visible=False)
                log_tail = gr.Code(label="Log (last lines)", language=None, lines=8)
                with gr.Accordion("The run as config.yaml and as a command", open=False):
                    shell = gr.Markdown()
                    yaml_view = gr.Code(label="config.yaml", language="yaml", elem_id=PREVIEW_ID)
        seen, unseen = gr.State(None), gr.State(None)  # made inside the Tab: a component made between tabs becomes a tab
        timer = gr.Timer(1.0)

    inputs = [name, *[controls[n] for n in field_names()]]
    form_preview = named(bind(preview, ctx), field_names())
    for control in inputs:
        control.change(form_preview, inputs, [yaml_view, shell], api_name=False)
    prepare.click(bind(prepare_demo, ctx), None, message, api_name="tune_prepare_demo")
    start_button.click(named(bind(start, ctx), field_names()), inputs, [run, message], api_name="tune_start")
    resume_button.click(bind(resume, ctx), run, message, api_name="tune_resume")
    abort_button.click(bind(abort, ctx), run, message, api_name="tune_abort")
    watched = [status, plot, log_tail, chat_button, seen]
    timer.tick(bind(watch, ctx), [run, seen], watched, api_name=False, show_progress="hidden")
    run.change(bind(watch, ctx), [run, unseen], watched, api_name="tune_watch")
    blocks.load(bind(runs_list, ctx), None, run, api_name=False) \
        .then(form_preview, inputs, [yaml_view, shell], api_name=False)
    page["tune-open-in-chat"] = (chat_button, bind(open_in_chat, ctx), run)


def wire(ctx: AppContext, page: dict) -> None:
    """After every tab exists: Open in Chat puts the finished run on the Chat tab's tuned side."""
    button, handler, run = page["tune-open-in-chat"]
    button.click(handler, run, [page["chat-right"], page["tabs"]], api_name="tune_open_in_chat")
