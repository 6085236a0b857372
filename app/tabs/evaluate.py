"""Evaluate tab: models and Q-Bench protocols (A1 perception, A3 quality, A2 description) on the demo's
held-out sets or any files, run on the studio's model queue with tables filling in; earlier runs compared as the
paper's tables and radar; the arena leaderboard from the Chat tab's votes."""
from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from qinstruct.config import shell_line
from qinstruct.demo.shipped import default_pair, shipped_radar, shipped_report
from qinstruct.eval.arena import leaderboard, load_votes
from qinstruct.eval.background import WAITING
from qinstruct.eval.jobs import studio_configs, summary_of
from qinstruct.eval.report import ReportConfig, radar, tables, write_report
from qinstruct.models.pool import list_model_specs
from qinstruct.runs import list_runs
from qinstruct.workspace import safe_name

from ..context import AppContext
from ..forms import bind, reports_errors

TABLES_ID, RADAR_ID, STATUS_ID, ARENA_ID = "eval-tables", "eval-radar", "eval-status", "eval-arena"
ACTIVITY_ID, EXPORT_ID, SHIPPED_ID = "eval-activity", "eval-export", "eval-shipped"
PROTOCOLS = ["A1", "A3", "A2"]
POLL_S = 0.5


def eval_runs(ctx: AppContext) -> list[str]:
    return [s.name for s in list_runs(ctx.workspace.evals, depth=1) if s.kind.startswith("eval-")]


def render(summaries: list[dict]) -> tuple[str, object]:
    if not summaries:
        return "No results yet.", None
    models = [m for s in summaries for m in s["models"]]
    markdown = "\n".join(table.markdown(models[0] if models else None) for table in tables(summaries))
    return markdown, radar(summaries)


@reports_errors
def evaluate(ctx: AppContext, name, models, protocols, questions, mos, references, image_root, judge, limit,
             progress=gr.Progress()):
    """Hand the evaluations to the studio's worker and watch them; closing the page stops the watching only."""
    configs = studio_configs(ctx.access, ctx.workspace.evals, name, list(models or []), list(protocols or []),
                             questions, (mos or "").splitlines(), references, image_root, judge, limit)
    commands = "\n".join(f"- `{shell_line(config)}`" for config in configs)
    outs = ctx.evaluations.submit(configs, ctx.access.keys)
    shown = None
    while True:
        states = [ctx.evaluations.state(out) for out in outs]
        finished = [s.summary for s in states if s.summary is not None]
        if all(s.state not in WAITING for s in states):
            break
        running = next((s for s in states if s.state == "running" and s.total), None)
        if running:
            progress((running.done, running.total), desc=running.label, unit="items")
        if len(finished) != shown:  # tables redrawn as each evaluation ends, not on every poll
            shown = len(finished)
            lines = "\n".join(f"- {s.line()}" for s in states)
            yield f"{lines}\n\nThe same from a shell:\n\n{commands}", *render(finished), gr.skip()
        time.sleep(POLL_S)
    warnings = "".join(f"\n\n⚠ {summary['protocol'].upper()}, {spec}: {failed['items']} item(s) not scored, e.g. "
                       f"{failed['first']}" for summary in finished for spec, failed in summary["failed"].items())
    failures = "".join(f"\n\n⚠ {s.line()}" for s in states if s.state == "failed")
    status = f"Done: {len(finished)} of {len(configs)} evaluation(s).{failures}{warnings}\n\nThe same from a " \
             f"shell:\n\n{commands}"
    yield (status, *render(finished),
           gr.Dropdown(choices=eval_runs(ctx), value=[out.rsplit("/", 1)[-1] for out, state in zip(outs, states)
                                                      if state.summary is not None]))


def activity(ctx: AppContext, seen):
    """The studio's evaluations in progress, for every page (a reloaded one too); unchanged: not redrawn."""
    text = "\n".join(f"- {state.line()}" for state in ctx.evaluations.active())
    text = f"In progress (results appear under Compare when done):\n\n{text}" if text else ""
    return (gr.skip(), seen) if text == seen else (text, text)


@reports_errors
def compare(ctx: AppContext, runs):
    allowed = set(eval_runs(ctx))
    summaries = [summary_of(ctx.workspace.evals / run) for run in runs or [] if run in allowed]
    return render([s for s in summaries if s])


@reports_errors
def export(ctx: AppContext, runs):
    """The compared runs as a report (Markdown, CSV tables, radar, scatters) zipped, under evals/reports/."""
    allowed = set(eval_runs(ctx))
    chosen = [run for run in runs or [] if run in allowed]
    if not chosen:
        raise gr.Error("Choose the runs to export under Compare earlier runs.")
    out = ctx.workspace.evals / "reports" / safe_name("+".join(chosen))
    write_report(ReportConfig(runs=[str(ctx.workspace.evals / run) for run in chosen], out=str(out)))
    return str(out / "report.zip")


@reports_errors
def arena(ctx: AppContext, include_open):
    board = leaderboard(load_votes(str(ctx.workspace.chat_log), bool(include_open))).as_dict()
    if not board["ratings"]:
        return pd.DataFrame(), "No votes yet: vote in the Chat tab (blind mode) first."
    ratings = pd.DataFrame([{"model": r["model"], "rating": r["rating"], "95% interval": f"{r['ci95'][0]:.0f} – "
                             f"{r['ci95'][1]:.0f}", "wins": r["wins"], "ties": r["ties"], "losses": r["losses"]}
                            for r in board["ratings"]])
    matrix = "\n".join(f"- {model}: " + ", ".join(f"vs {other} {rate:.0%}" for other, rate in row.items()
                                                  if rate is not None)
                       for model, row in board["win_rate"].items())
    pairs = ", ".join(f"{pair}: {n}" for pair, n in board["votes_per_pair"].items())
    return ratings, f"Win rates (row model's share of points):\n\n{matrix}\n\nVotes per pair: {pairs}"


def create_tab(ctx: AppContext, blocks: gr.Blocks, page: dict) -> None:
    defaults = [spec for spec in default_pair(ctx.workspace.models, ctx.workspace.root) if spec]
    choices = list_model_specs(ctx.workspace.root, ctx.workspace.models, ctx.workspace.runs)
    shipped = shipped_report()
    with gr.Tab("Evaluate", id="evaluate"):
        if shipped:
            with gr.Accordion("The shipped micro demo models: their reproduction's tables (measured when they were "
                              "trained; nothing re-runs)", open=False, elem_id=SHIPPED_ID):
                with gr.Row():
                    gr.Markdown(shipped)
                    if shipped_radar():
                        gr.Image(str(shipped_radar()), label="Abilities (the radar)", interactive=False,
                                 show_label=True)
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                name = gr.Textbox("demo", label="Run name (folders under the workspace's evals/)")
                models = gr.Dropdown(choices, value=defaults, multiselect=True, allow_custom_value=True,
                                     label="Models (the Chat tab's two sides to begin with)")
                protocols = gr.CheckboxGroup(PROTOCOLS, value=["A1", "A3"], label="Protocols")
                with gr.Accordion("Evaluation sets (the demo's held-out sets by default)", open=False):
                    questions = gr.Textbox("demo/world/eval/llvisionqa.json", label="A1: LLVisionQA questions")
                    mos = gr.Textbox("demo/world/eval/mos.json=demo", lines=2,
                                     label="A3: MOS lists, one FILE=NAME per line")
                    references = gr.Textbox("demo/world", label="A2: references (a JSON file, or a demo world)")
                    image_root = gr.Textbox("demo/world", label="Image root (paths in the sets are relative to it)")
                    judge = gr.Textbox("offline", label="A2 judge: offline, or openai:MODEL@URL")
                limit = gr.Number(0, precision=0, minimum=0, label="Only the first N items (0: all)")
                run_button = gr.Button("Evaluate", variant="primary")
                runs = gr.Dropdown(eval_runs(ctx), multiselect=True, allow_custom_value=True,
                                   label="Compare earlier runs")
                export_button = gr.Button("Export them (Markdown, CSV, PNG in a zip)", size="sm")
                exported = gr.File(label="Report", interactive=False, elem_id=EXPORT_ID)
            with gr.Column(scale=3):
                busy = gr.Markdown(elem_id=ACTIVITY_ID)
                status = gr.Markdown(elem_id=STATUS_ID, elem_classes=["qi-status"])
                result = gr.Markdown(elem_id=TABLES_ID)
                chart = gr.Plot(label="Abilities", elem_id=RADAR_ID)
        with gr.Accordion("Arena: ratings from the Chat tab's votes", open=False):
            with gr.Row():
                include_open = gr.Checkbox(label="Count votes cast outside blind mode too")
                refresh = gr.Button("Refresh leaderboard", size="sm")
            ratings = gr.Dataframe(label="Bradley-Terry ratings (Elo scale, 95% bootstrap intervals)",
                                   elem_id=ARENA_ID)
            matrix = gr.Markdown()
        busy_seen = gr.State("")
        timer = gr.Timer(2.0)

    run_button.click(bind(evaluate, ctx), [name, models, protocols, questions, mos, references, image_root, judge,
                                           limit], [status, result, chart, runs], api_name="eval_run",
                     concurrency_limit=None)  # watching only: the worker runs one evaluation at a time
    runs.change(bind(compare, ctx), runs, [result, chart], api_name="eval_compare")
    export_button.click(bind(export, ctx), runs, exported, api_name="eval_export")
    refresh.click(bind(arena, ctx), include_open, [ratings, matrix], api_name="eval_arena")
    blocks.load(bind(eval_runs_update, ctx), None, runs, api_name=False)
    timer.tick(bind(activity, ctx), busy_seen, [busy, busy_seen], api_name="eval_activity", show_progress="hidden")


def eval_runs_update(ctx: AppContext):
    return gr.Dropdown(choices=eval_runs(ctx))
