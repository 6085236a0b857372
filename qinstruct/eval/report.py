"""Evaluation results as the paper shows them: tables with +Δ against the baseline (best in bold), the radar of
abilities (Fig. 1), the A3 scatter, and a scaling curve over runs at several data fractions (Fig. 6).

Everything is computed from the runs' summary.json files, so a table can be rebuilt from files at any time.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..config import option
from ..data.records import QUESTION_CONCERNS, QUESTION_TYPES
from ..fileio import write_files_and_zip
from .jobs import summary_of, summary_problem

A1_COLUMNS = [*QUESTION_TYPES.values(), *QUESTION_CONCERNS.values(), "Overall"]


@dataclass(kw_only=True)
class ReportConfig:
    COMMAND: ClassVar = ("eval", "report")

    runs: list[str] = option(help="evaluation run folders (A1, A2, A3)", positional=True, metavar="RUN")
    out: str = option(help="output folder: report.md, CSV tables, radar.png, scatter PNGs")
    baseline: str = option("", help="the model the others are compared with (+Δ); default: the first one")


def model_labels(models) -> dict[str, str]:
    """Short names for tables, legends and file names: local folders lose the folders they all share (a
    workspace's long prefix says nothing); hub ids and endpoints stay as written.  CSV files keep the specs."""
    models = list(models)
    local = {m: Path(m).resolve() for m in models if Path(m).is_absolute() or Path(m).exists()}
    common = Path(os.path.commonpath([p.parent for p in local.values()])) if local else None
    return {m: str(local[m].relative_to(common)) if m in local else m for m in models}


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: dict[str, list[float | None]]  # model -> values

    def markdown(self, baseline: str | None) -> str:
        base = self.rows.get(baseline) if baseline else None
        best = [max((r[c] for r in self.rows.values() if r[c] is not None), default=None)
                for c in range(len(self.columns))]
        labels = model_labels(self.rows)
        lines = [f"### {self.title}", "", "| model | " + " | ".join(self.columns) + " |",
                 "|---|" + "---:|" * len(self.columns)]
        for model, values in self.rows.items():
            cells = []
            for c, value in enumerate(values):
                if value is None:
                    cells.append("–")
                    continue
                cell = f"{value:.3f}"
                if base is not None and model != baseline and base[c] is not None:
                    cell += f" ({value - base[c]:+.3f})"
                cells.append(f"**{cell}**" if value == best[c] and len(self.rows) > 1 else cell)
            lines.append(f"| {labels[model]} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["model", *self.columns])
        for model, values in self.rows.items():
            writer.writerow([model, *("" if v is None else round(v, 6) for v in values)])
        return buffer.getvalue()


def tables(summaries: list[dict]) -> list[Table]:
    out: list[Table] = []
    for summary in summaries:
        if summary["protocol"] == "a1":
            for protocol, title in (("letter", "A1 perception, letter protocol (accuracy)"),
                                    ("likelihood", "A1 perception, likelihood protocol (Q-Bench's perplexity "
                                                   "variant, whole sequence)"),
                                    ("likelihood_option_only", "A1 perception, likelihood over the option's tokens")):
                rows = {m: _a1_row(s[protocol]) for m, s in summary["models"].items() if protocol in s}
                if rows:
                    out.append(Table(title, A1_COLUMNS, rows))
        elif summary["protocol"] == "a3":
            datasets = sorted({d for s in summary["models"].values() for d in s})
            columns = [f"{d} {k}" for d in datasets for k in ("SRCC", "PLCC")]
            rows = {m: [s.get(d, {}).get(k) for d in datasets for k in ("srcc", "plcc")]
                    for m, s in summary["models"].items()}
            out.append(Table("A3 quality assessment (SRCC / PLCC of the good/poor score)", columns, rows))
        elif summary["protocol"] == "a2":
            columns = ["completeness", "precision", "relevance", "sum"]
            rows = {m: [s.get(c) for c in columns] for m, s in summary["models"].items()}
            out.append(Table(f"A2 description (judge: {summary.get('judge')}; each out of 2, sum out of 6)", columns,
                             rows))
    return out


def _a1_row(summary: dict) -> list[float | None]:
    return [*(summary["by_type"][t] for t in QUESTION_TYPES.values()),
            *(summary["by_concern"][c] for c in QUESTION_CONCERNS.values()), summary["overall"]]


def radar(summaries: list[dict]):
    """Abilities of every model on one polar chart: A1 by type and concern (first protocol found), A3 SRCC per
    dataset (negative clipped to 0), A2 sum / 6."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    axes_names, values = [], {}
    for summary in summaries:
        for model, result in summary["models"].items():
            row = values.setdefault(model, {})
            if summary["protocol"] == "a1":
                protocol = next((p for p in ("likelihood", "letter") if p in result), None)
                if protocol:
                    for name, value in zip(A1_COLUMNS[:-1], _a1_row(result[protocol])[:-1]):
                        row[f"A1 {name}"] = value
            elif summary["protocol"] == "a3":
                for dataset, r in result.items():
                    row[f"A3 {dataset}"] = max(r["srcc"], 0) if r["srcc"] == r["srcc"] else None
            elif summary["protocol"] == "a2":
                row["A2"] = result["sum"] / 6
    for row in values.values():
        axes_names += [name for name in row if name not in axes_names]
    figure = Figure(figsize=(6.4, 6.4), dpi=100, layout="tight")
    axis = figure.add_subplot(projection="polar")
    labels = model_labels(values)
    if len(axes_names) >= 3:
        angles = np.linspace(0, 2 * np.pi, len(axes_names), endpoint=False).tolist()
        for model, row in values.items():
            points = [row.get(name) or 0.0 for name in axes_names]
            axis.plot(angles + angles[:1], points + points[:1], label=labels[model])
            axis.fill(angles + angles[:1], points + points[:1], alpha=0.08)
        axis.set_xticks(angles)
        axis.set_xticklabels([name.replace("In-context ", "Ctx ") for name in axes_names], fontsize=7)
        axis.set_ylim(0, 1)
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=8)
    axis.set_title("Abilities (A1 accuracy, A3 SRCC, A2 / 6)", fontsize=10, pad=18)
    return figure


def scatter(run: Path, model: str, dataset: str, label: str | None = None):
    """A3: each image's score against its MOS."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from ..fileio import read_jsonl

    points = [(r["mos"], r["p_good"]) for r in read_jsonl(run / "items.jsonl")
              if r.get("model") == model and r.get("dataset") == dataset and "p_good" in r]
    figure = Figure(figsize=(4.2, 3.6), dpi=100, layout="tight")
    axis = figure.add_subplot()
    if points:
        axis.scatter(*zip(*points), s=8, alpha=0.6, color="#ea580c")
    axis.set_xlabel("MOS")
    axis.set_ylabel("P(good)")
    axis.set_title(f"{label or model} on {dataset}", fontsize=9)
    return figure


def _fraction(model: str) -> float | None:
    """The low-level data fraction a model was tuned with (from its qinstruct.json), if it is one of ours."""
    import json

    try:
        marker = json.loads((Path(model) / "qinstruct.json").read_text())
        return float(marker["config"]["low_level_fraction"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def scaling(summaries: list[dict]):
    """Fig. 6: each metric against the share of low-level data the models were tuned with; None when fewer than
    two fractions were evaluated."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    curves: dict[str, list[tuple[float, float]]] = {}
    for summary in summaries:
        for model, result in summary["models"].items():
            fraction = _fraction(model)
            if fraction is None:
                continue
            if summary["protocol"] == "a1":
                for protocol in ("letter", "likelihood"):
                    if protocol in result and result[protocol]["overall"] is not None:
                        curves.setdefault(f"A1 {protocol}", []).append((fraction, result[protocol]["overall"]))
            elif summary["protocol"] == "a3":
                for dataset, r in result.items():
                    curves.setdefault(f"A3 SRCC {dataset}", []).append((fraction, r["srcc"]))
    if not any(len({x for x, _ in points}) >= 2 for points in curves.values()):
        return None
    figure = Figure(figsize=(5.6, 3.6), dpi=100, layout="tight")
    axis = figure.add_subplot()
    for name, points in curves.items():
        axis.plot(*zip(*sorted(points)), "o-", label=name)
    axis.set_xlabel("share of the low-level data")
    axis.set_ylabel("score")
    axis.set_title("Scaling with the low-level data (Fig. 6)", fontsize=10)
    axis.legend(fontsize=7)
    return figure


def png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_report(config: ReportConfig, preamble: str = "") -> Path:
    """report.md (after `preamble`) with every table, a CSV per table, radar.png, the A3 scatters and the
    scaling curve into config.out, plus report.zip of them all; returns report.md."""
    from ..config import check_config
    from ..workspace import safe_name

    check_config(config)
    problems = [problem for problem in (summary_problem(Path(r)) for r in config.runs) if problem]
    if problems:
        from ..config import ConfigError

        raise ConfigError("; ".join(problems))
    loaded = [(Path(r), summary_of(Path(r))) for r in config.runs]
    summaries = [summary for _, summary in loaded]
    models = [m for s in summaries for m in s["models"]]
    baseline = config.baseline or (models[0] if models else None)
    labels = model_labels(models)
    parts = ["# Evaluation report", "", f"Baseline for +Δ: `{labels.get(baseline, baseline)}`." if baseline else "",
             ""]
    files: dict[str, bytes] = {}
    for index, table in enumerate(tables(summaries)):
        parts.append(table.markdown(baseline))
        files[f"table{index + 1}_{safe_name(table.title.split(' (')[0].lower())}.csv"] = table.csv().encode()
    files["radar.png"] = png(radar(summaries))
    parts += ["![abilities](radar.png)", ""]
    curve = scaling(summaries)
    if curve is not None:
        files["scaling.png"] = png(curve)
        parts += ["![scaling](scaling.png)", ""]
    for run, summary in loaded:
        if summary["protocol"] == "a3":
            for model, per_set in summary["models"].items():
                for dataset in per_set:
                    name = f"scatter_{safe_name(labels[model])}_{safe_name(dataset)}.png"
                    files[name] = png(scatter(run, model, dataset, labels[model]))
                    parts.append(f"![{labels[model]} on {dataset}]({name})")
    files["report.md"] = (preamble + "\n".join(parts) + "\n").encode()
    write_files_and_zip(config.out, files)
    return Path(config.out) / "report.md"
