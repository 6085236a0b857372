"""Evaluate tab: models and Q-Bench protocols (A1 perception, A3 quality, A2 description) on the demo's
held-out sets or any files, each protocol a job of its own with tables filling in as they end; earlier runs
compared as the paper's tables and radar; the arena leaderboard from the Chat tab's votes."""
from __future__ import annotations

import io
from pathlib import Path

import gradio as gr
import pandas as pd
from PIL import Image

from qinstruct.config import job_fields, shell_line
from qinstruct.demo.shipped import shipped_pictures, shipped_radar, shipped_report
from qinstruct.errors import UserError
from qinstruct.eval.arena import a3_srcc, agreement, leaderboard, read_votes
from qinstruct.eval.protocols import list_protocols, protocol_configs, protocol_named, studio_configs, summary_of
from qinstruct.eval.report import ReportConfig, radar, tables, write_report
from qinstruct.eval.types import EvalModels
from qinstruct.workspace import safe_name

from ..context import AppContext, actor, user_event
from ..forms import ERROR_MARK, config_form, form_values, named, reports_errors
from ..watching import not_confirmed, run_folder

TABLES_ID, RADAR_ID, STATUS_ID, ARENA_ID = "eval-tables", "eval-radar", "eval-status", "eval-arena"
ACTIVITY_ID, EXPORT_ID, SHIPPED_ID, STOP_ID = "eval-activity", "eval-export", "eval-shipped", "eval-stop"
SHIPPED_TABLES_ID, SHIPPED_RADAR_ID = "eval-shipped-tables", "eval-shipped-radar"
SHIPPED_PICTURES_ID = "eval-shipped-pictures"
TABLE_PICTURES = "The tables as pictures for slides (open one, then download it, or right-click → copy image)"
TABLE_IMAGES_ID = "eval-table-images"


def eval_runs(ctx: AppContext, who: str | None = None) -> list[str]:
    """The finished evaluations `who` may see (the operator: every one)."""
    return [s.name for s in ctx.jobs.jobs(who, protocol_configs(), ctx.workspace.evals) if s.state == "done"]


def render(summaries: list[dict]) -> tuple[str, object, list]:
    """The tables (Markdown), the radar, and each table as a picture for a slide (PNG, with its title)."""
    if not summaries:
        return "No results yet.", None, []
    models = [m for s in summaries for m in s["models"]]
    baseline = models[0] if models else None
    shown = tables(summaries)
    markdown = "\n".join(table.markdown(baseline) for table in shown)
    pictures = [(Image.open(io.BytesIO(table.png(baseline))), table.title) for table in shown]
    return markdown, radar(summaries), pictures


# The shared fields the page sets itself (models: the dropdown; out: the run name) or leaves to the operator
COMMON_SKIP = ("models", "out", "trust_remote_code", "cache_dir")
EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "configs"
IN_WORKSPACE = "workspace/"


def preset(protocol: str) -> dict:
    """A protocol's form opens on its demo example (assets/configs/eval_NAME_demo.yaml, paths made relative to the
    workspace, as a user types them); a protocol without one opens on its config's defaults."""
    from qinstruct.config import read_yaml_mapping

    example = EXAMPLES / f"eval_{protocol}_demo.yaml"
    if not example.is_file():
        return {}

    def relative(value):
        if isinstance(value, list):
            return [relative(v) for v in value]
        return value[len(IN_WORKSPACE):] if isinstance(value, str) and value.startswith(IN_WORKSPACE) else value

    return {key: relative(value) for key, value in read_yaml_mapping(example).items()}


def common_names() -> list[str]:
    return [f.name for f in job_fields(EvalModels) if f.name not in COMMON_SKIP]


def own_names(protocol: str) -> list[str]:
    """A protocol's own fields (beyond the shared ones), as the form's parameters: PROTOCOL_FIELD."""
    shared = {f.name for f in job_fields(EvalModels)}
    return [f.name for f in job_fields(protocol_named(protocol).config) if f.name not in shared and
            f.name not in protocol_named(protocol).form_skip]


def form_names() -> list[str]:
    return common_names() + [f"{p}_{n}" for p in list_protocols() for n in own_names(p)]


@reports_errors(line=0, outputs=2)
def evaluate(ctx: AppContext, name, models, protocols, request: gr.Request, *values):
    """Start one job per protocol (each its own process; they queue behind the studio's job limit) and watch them;
    closing the page stops the watching only."""
    who = actor(request)
    by_name = dict(zip(form_names(), values))
    common = form_values(EvalModels, common_names(), tuple(by_name[n] for n in common_names()))
    fields = {p: form_values(protocol_named(p).config, own_names(p), tuple(by_name[f"{p}_{n}"] for n in own_names(p)))
              for p in list_protocols()}
    configs = [ctx.jobs.admit(config) for config in  # every one of them may start, or none starts
               studio_configs(ctx.access, ctx.workspace.evals, name, list(models or []),
                              [p.lower() for p in protocols or []], common, fields)]
    lines, watched, refused = [], [], []
    for config in configs:
        try:
            lines.append(ctx.jobs.start(config, who))
            watched.append(Path(config.out).name)
        except UserError as error:
            refused.append(str(error))
            lines.append(ERROR_MARK + str(error))
    if not watched:
        raise UserError("; ".join(refused))
    commands = "\n".join(f"- `{shell_line(config, ctx.workspace.top)}`" for config in configs)
    return "\n".join(f"- {line}" for line in lines) + \
        f"\n\nThe same from a shell (from the workspace folder):\n\n{commands}", watched


def watch(ctx: AppContext, watched, drawn=None, request: gr.Request = None):
    """The evaluations this page started, as their run folders say: a line each, and the tables and radar of
    those done (redrawn only when something changed)."""
    who = actor(request)
    folders = [run_folder(ctx.workspace.evals, run) for run in watched or []]
    jobs = [job for job in (ctx.jobs.view(folder, who) for folder in folders if folder) if job]
    key = tuple((job.name, job.state, job.step) for job in jobs)
    if not jobs or key == drawn:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), drawn
    finished = [s for s in (summary_of(job.path) for job in jobs if job.state == "done") if s]
    lines = "\n".join(f"- {job.line()}" for job in jobs)
    if any(job.status.live for job in jobs):
        return f"In progress:\n\n{lines}", *render(finished), gr.skip(), key
    warnings = "".join(f"\n\n⚠ {summary['protocol'].upper()}, {spec}: {failed['items']} item(s) not scored, e.g. "
                       f"{failed['first']}" for summary in finished for spec, failed in summary["failed"].items())
    status = f"Done: {len(finished)} of {len(jobs)} evaluation(s).\n\n{lines}{warnings}"
    return (status, *render(finished), gr.Dropdown(choices=eval_runs(ctx, who),
                                                   value=[job.name for job in jobs if job.state == "done"]), key)


@reports_errors(line=0)
def stop(ctx: AppContext, watched, confirmed, request: gr.Request = None):
    """Abort the evaluations this page is watching (asked once)."""
    if not_confirmed(confirmed):
        return "Not stopped."
    who = actor(request)
    folders = [run_folder(ctx.workspace.evals, run) for run in watched or []]
    live = [folder for folder in folders if folder and (job := ctx.jobs.view(folder, who)) and job.status.live]
    if not live:
        return "Nothing of yours is running here."
    return "\n".join(f"- {ctx.jobs.abort(folder, who)}" for folder in live)


def activity(ctx: AppContext, drawn, request: gr.Request = None):
    """Your evaluations in progress, for every page of yours (a reloaded one too); unchanged: not redrawn."""
    who = actor(request)
    live = [view for view in (ctx.jobs.view(status.path, who) for status in
                              ctx.jobs.jobs(who, protocol_configs(), ctx.workspace.evals) if status.live) if view]
    text = "\n".join(f"- {view.line()}" for view in live)
    text = f"In progress (results appear under Compare when done):\n\n{text}" if text else ""
    return (gr.skip(), drawn) if text == drawn else (text, text)


def reattach(ctx: AppContext, request: gr.Request = None):
    """On page load: watch your evaluations still running, list the finished ones under Compare, offer your
    models (your runs' too)."""
    who = actor(request)
    live = [s.name for s in ctx.jobs.jobs(who, protocol_configs(), ctx.workspace.evals) if s.live]
    return live, gr.Dropdown(choices=eval_runs(ctx, who)), gr.Dropdown(choices=ctx.model_choices())


@reports_errors(line=0, outputs=3)
def compare(ctx: AppContext, runs, request: gr.Request = None):
    allowed = set(eval_runs(ctx, actor(request)))
    summaries = [summary_of(ctx.workspace.evals / run) for run in runs or [] if run in allowed]
    return render([s for s in summaries if s])


@reports_errors(line=1, outputs=2)
def export(ctx: AppContext, runs, request: gr.Request = None):
    """The compared runs as a report (Markdown, CSV tables, radar, scatters) zipped, under evals/reports/."""
    allowed = set(eval_runs(ctx, actor(request)))
    chosen = [run for run in runs or [] if run in allowed]
    if not chosen:  # a line beside the button, not an Error badge on the file box
        return gr.skip(), "Choose the runs to export under Compare earlier runs."
    out = ctx.workspace.evals / "reports" / safe_name("+".join(chosen))
    write_report(ReportConfig(runs=[str(ctx.workspace.evals / run) for run in chosen], out=str(out)))
    return str(out / "report.zip"), f"Exported {len(chosen)} run(s): tables as Markdown, CSV and PNG, the radar."


@reports_errors(line=1, outputs=2)
def arena(ctx: AppContext, include_open, request: gr.Request = None):
    """The leaderboard, the votes left out and why, and its agreement with the A3 runs this user can see."""
    board = leaderboard(read_votes(str(ctx.workspace.chat_log), bool(include_open)))
    shown = board.as_dict()
    left_out = "; ".join(f"{n} {reason}" for reason, n in board.excluded.items())
    if not shown["ratings"]:
        return pd.DataFrame(), "No votes yet: vote in the Chat tab (blind mode) first." + (
            f"  \nNot counted: {left_out}." if left_out else "")
    ratings = pd.DataFrame([{"model": r["model"], "rating": r["rating"], "95% interval": f"{r['ci95'][0]:.0f} – "
                             f"{r['ci95'][1]:.0f}", "wins": r["wins"], "ties": r["ties"], "losses": r["losses"],
                             "both bad": r["both_bad"]} for r in shown["ratings"]])
    matrix = "\n".join(f"- {model}: " + ", ".join(f"vs {other} {rate:.0%}" for other, rate in row.items()
                                                  if rate is not None)
                       for model, row in shown["win_rate"].items())
    pairs = ", ".join(f"{pair}: {n}" for pair, n in shown["votes_per_pair"].items())
    summaries = [summary_of(ctx.workspace.evals / run) for run in eval_runs(ctx, actor(request))]
    agreed = agreement(board, a3_srcc([s for s in summaries if s]))
    return ratings, (f"Win rates (row model's share of points; ties half, \"both are bad\" apart):\n\n{matrix}\n\n"
                     f"Votes per pair: {pairs}" + (f"  \nNot counted: {left_out}." if left_out else "")
                     + f"  \n{agreed.line()}")


def create_tab(ctx: AppContext, blocks: gr.Blocks, page: dict) -> None:
    defaults = [spec for spec in ctx.default_models() if spec]
    choices = ctx.model_choices(page=True)
    shipped = shipped_report()
    with gr.Tab("Evaluate", id="evaluate"):
        if shipped:
            with gr.Accordion("The shipped micro demo models: their reproduction's tables (measured when they were "
                              "trained; nothing re-runs)", open=False, elem_id=SHIPPED_ID):
                gr.Markdown(shipped, elem_id=SHIPPED_TABLES_ID)  # the page's full width: numbers a projector shows
                figure = shipped_radar()
                if figure is not None:
                    with gr.Row():
                        gr.Plot(figure, label="Abilities (the radar)", elem_id=SHIPPED_RADAR_ID)
                        gr.Markdown("The radar's A1 axes come from the protocol that separates the models most "
                                    "(named on each axis); A3 is the SRCC, negative values drawn as 0.")
                pictures = [(Image.open(io.BytesIO(picture)), title) for picture, title in shipped_pictures()]
                if pictures:  # a slide's pictures, as an evaluation of your own gets
                    gr.Gallery(pictures, label=TABLE_PICTURES, columns=2, height="auto", object_fit="contain",
                               elem_id=SHIPPED_PICTURES_ID, interactive=False)
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                name = gr.Textbox("demo", label="Run name (folders under your evals/)")
                models = gr.Dropdown(choices, value=defaults, multiselect=True, allow_custom_value=True,
                                     label="Models (the Chat tab's two sides to begin with)")
                protocols = gr.CheckboxGroup([p.upper() for p in list_protocols()], value=["A1", "A3"],
                                             label="Protocols")
                shared = {**preset("a1"), **preset("a3")}  # the image root the demo's examples share
                controls = config_form(EvalModels, shared, skip=COMMON_SKIP, title="Options of every protocol",
                                       open_groups=0)
                for protocol in list_protocols():
                    config = protocol_named(protocol).config
                    own = config_form(config, preset(protocol), prefix=f"{protocol}-", open_groups=0,
                                      skip=tuple(f.name for f in job_fields(config)
                                                 if f.name not in own_names(protocol)),
                                      title=protocol_named(protocol).about)
                    controls.update({f"{protocol}_{n}": control for n, control in own.items()})
                with gr.Row():
                    run_button = gr.Button("Evaluate", variant="primary")
                    stop_button = gr.Button("Stop…", variant="stop", elem_id=STOP_ID)
                runs = gr.Dropdown([], multiselect=True, allow_custom_value=True, label="Compare earlier runs")
                export_button = gr.Button("Export them (Markdown, CSV, PNG in a zip)", size="sm")
                export_note = gr.Markdown()
                exported = gr.File(label="Report", interactive=False, elem_id=EXPORT_ID)
            with gr.Column(scale=3):
                busy = gr.Markdown(elem_id=ACTIVITY_ID)
                status = gr.Markdown(elem_id=STATUS_ID, elem_classes=["qi-status"])
                chart = gr.Plot(label="Abilities", elem_id=RADAR_ID)
        result = gr.Markdown(elem_id=TABLES_ID)  # the page's full width: numbers a projector can show
        table_images = gr.Gallery(label=TABLE_PICTURES, columns=2, height="auto", object_fit="contain",
                                  elem_id=TABLE_IMAGES_ID, interactive=False)
        with gr.Accordion("Arena: ratings from the Chat tab's votes", open=False):
            with gr.Row():
                include_open = gr.Checkbox(label="Count votes cast outside blind mode too")
                refresh = gr.Button("Refresh leaderboard", size="sm")
            ratings = gr.Dataframe(label="Bradley-Terry ratings (Elo scale, 95% bootstrap intervals)",
                                   elem_id=ARENA_ID)
            matrix = gr.Markdown()
        watched, drawn, nothing_drawn, busy_drawn = gr.State([]), gr.State(None), gr.State(None), gr.State("")
        confirmed = gr.Textbox(visible=False)  # what the Stop button's question answered
        timer = gr.Timer(1.0)

    watch_outputs = [status, result, chart, table_images, runs, drawn]
    run_button.click(named(user_event(evaluate, ctx), form_names()),
                     [name, models, protocols, *[controls[n] for n in form_names()]], [status, watched],
                     api_name="eval_run")
    watched.change(user_event(watch, ctx), [watched, nothing_drawn], watch_outputs, api_name=False)
    timer.tick(user_event(watch, ctx), [watched, drawn], watch_outputs, api_name=False, show_progress="hidden")
    stop_button.click(user_event(stop, ctx), [watched, confirmed], status, api_name="eval_stop",
                      js="(watched, confirmed) => [watched, confirm('Stop the evaluations this page started? "
                         "Evaluate with the same settings continues them later.') ? 'yes' : '']")
    runs.change(user_event(compare, ctx), runs, [result, chart, table_images], api_name="eval_compare")
    export_button.click(user_event(export, ctx), runs, [exported, export_note], api_name="eval_export")
    refresh.click(user_event(arena, ctx), include_open, [ratings, matrix], api_name="eval_arena")
    blocks.load(user_event(reattach, ctx), None, [watched, runs, models], api_name=False)
    timer.tick(user_event(activity, ctx), busy_drawn, [busy, busy_drawn], api_name="eval_activity",
               show_progress="hidden")


def watch_api(ctx: AppContext, runs: list[str], request: gr.Request = None) -> tuple[str, str]:
    """The evaluations named (this user's), as the page shows them: the status and the tables."""
    shown = watch(ctx, runs, None, request)
    return (shown[0], shown[1]) if isinstance(shown[0], str) else ("", "")


def wire(ctx: AppContext, page: dict) -> None:
    """Outside the tabs (an API route is no tab): the job's view by name, for scripts and tests."""
    gr.api(user_event(watch_api, ctx), api_name="eval_watch")
