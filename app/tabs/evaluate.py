"""Evaluate tab: models and Q-Bench protocols (A1 perception, A3 quality, A2 description) on the demo's
held-out sets or any files, run on the studio's model queue with tables filling in; earlier runs compared as the
paper's tables and radar; the arena leaderboard from the Chat tab's votes."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from qinstruct.config import shell_line
from qinstruct.demo.standins import BASELINE, TUNED
from qinstruct.eval.arena import leaderboard, load_votes
from qinstruct.eval.jobs import run_any, studio_configs, summary_of
from qinstruct.eval.report import radar, tables
from qinstruct.models.pool import list_model_specs
from qinstruct.runs import list_runs

from ..context import AppContext
from ..forms import bind, reports_errors

TABLES_ID, RADAR_ID, STATUS_ID, ARENA_ID = "eval-tables", "eval-radar", "eval-status", "eval-arena"
PROTOCOLS = ["A1", "A3", "A2"]
DEVICE_QUEUE = "device"  # the Chat tab's queue: one model job at a time


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
    configs = studio_configs(ctx.access, ctx.workspace.evals, name, list(models or []), list(protocols or []),
                             questions, (mos or "").splitlines(), references, image_root, judge, limit)
    commands = "\n".join(f"- `{shell_line(config)}`" for config in configs)
    summaries: list[dict] = []
    for number, config in enumerate(configs, 1):
        label = type(config).__name__.removesuffix("Config")
        yield (f"Running {label} ({number} of {len(configs)})…\n\nThe same from a shell:\n\n{commands}",
               *render(summaries), gr.skip())
        summaries.append(run_any(config, lambda done, total: progress((done, max(total, 1)),
                                                                      desc=f"{label}", unit="items"),
                                 ctx.access.keys))
    warnings = "".join(f"\n\n⚠ {summary['protocol'].upper()}, {spec}: {failed['items']} item(s) not scored, e.g. "
                       f"{failed['first']}" for summary in summaries for spec, failed in summary["failed"].items())
    status = f"Done: {len(configs)} evaluation(s).{warnings}\n\nThe same from a shell:\n\n{commands}"
    yield (status, *render(summaries),
           gr.Dropdown(choices=eval_runs(ctx), value=[c.out.rsplit("/", 1)[-1] for c in configs]))


@reports_errors
def compare(ctx: AppContext, runs):
    allowed = set(eval_runs(ctx))
    summaries = [summary_of(ctx.workspace.evals / run) for run in runs or [] if run in allowed]
    return render([s for s in summaries if s])


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
    choices = list_model_specs(ctx.workspace.root, ctx.workspace.models, ctx.workspace.runs)
    defaults = [spec for spec in (f"models/{BASELINE}", f"models/{TUNED}") if spec in choices]
    with gr.Tab("Evaluate", id="evaluate"):
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
            with gr.Column(scale=3):
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

    run_button.click(bind(evaluate, ctx), [name, models, protocols, questions, mos, references, image_root, judge,
                                           limit], [status, result, chart, runs], api_name="eval_run",
                     concurrency_id=DEVICE_QUEUE, concurrency_limit=1)
    runs.change(bind(compare, ctx), runs, [result, chart], api_name="eval_compare")
    refresh.click(bind(arena, ctx), include_open, [ratings, matrix], api_name="eval_arena")
    blocks.load(bind(eval_runs_update, ctx), None, runs, api_name=False)


def eval_runs_update(ctx: AppContext):
    return gr.Dropdown(choices=eval_runs(ctx))
