"""Evaluation results as the paper shows them: tables with +Δ against the baseline (best in bold), the radar of
abilities (Fig. 1), each protocol's own figures (A3's score-vs-MOS scatters), and a scaling curve over runs at
several data fractions (Fig. 6).

Everything is computed from the runs' summary.json files by the protocols that wrote them (the registry in
eval/protocols.py), so a table can be rebuilt from files at any time and a new protocol needs nothing here.
"""
from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..config import option
from ..fileio import write_files_and_zip
from .protocols import protocol_named, summary_of, summary_problem
from .tables import Table, model_labels

__all__ = ["ReportConfig", "Table", "model_labels", "radar", "scaling", "tables", "write_report"]


@dataclass(kw_only=True)
class ReportConfig:
    COMMAND: ClassVar = ("eval", "report")

    runs: list[str] = option(help="evaluation run folders (A1, A2, A3)", positional=True, metavar="RUN")
    out: str = option(help="output folder: report.md, CSV tables, radar.png, scatter PNGs")
    baseline: str = option("", help="the model the others are compared with (+Δ); default: the first one")


def tables(summaries: list[dict]) -> list[Table]:
    out = []
    for summary in summaries:
        failed = summary.get("failed") if isinstance(summary.get("failed"), dict) else {}
        for table in protocol_named(summary["protocol"]).tables(summary):
            if table.unscored is None and failed:  # a protocol that does not count them per table (A2, A3):
                # its units without a score, per model, said under the table as A1's are
                table.unscored = {model: int(f.get("items") or 0) for model, f in failed.items()
                                  if model in table.rows and isinstance(f, dict)}
            out.append(table)
    return out


def radar(summaries: list[dict]):
    """Abilities of every model on one polar chart: A1 by type and concern (first protocol found), A3 SRCC per
    dataset (negative clipped to 0), A2 sum / 6."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    axes_names, values = [], {}
    for summary in summaries:
        for model, axes in protocol_named(summary["protocol"]).radar(summary).items():
            values.setdefault(model, {}).update(axes)
    values = {model: row for model, row in values.items() if any(v is not None for v in row.values())}  # a model
    # with no figure at all (every item unscored) is no polygon at 0: it is not drawn
    for row in values.values():
        axes_names += [name for name in row if name not in axes_names]
    figure = Figure(figsize=(7.2, 7.2), dpi=100)  # labels of 10 pt: a projector's last row reads them
    axis = figure.add_axes((0.2, 0.17, 0.6, 0.66), projection="polar")  # room around it for two-line labels
    labels = model_labels(values)
    if len(axes_names) >= 3:
        angles = np.linspace(0, 2 * np.pi, len(axes_names), endpoint=False).tolist()
        for model, row in values.items():
            points = [row.get(name) or 0.0 for name in axes_names]
            axis.plot(angles + angles[:1], points + points[:1], label=labels[model])
            axis.fill(angles + angles[:1], points + points[:1], alpha=0.08)
        axis.set_xticks(angles)
        axis.set_xticklabels([textwrap.fill(name.replace("In-context ", "Ctx "), 18) for name in axes_names],
                             fontsize=10)
        axis.tick_params(axis="y", labelsize=9)
        axis.tick_params(axis="x", pad=8)
        for label, angle in zip(axis.get_xticklabels(), angles):  # each label away from the circle, never over it
            x = np.cos(angle)
            label.set_horizontalalignment("center" if abs(x) < 0.1 else "left" if x > 0 else "right")
        axis.set_ylim(0, 1)
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=10, ncol=min(4, len(values)))
    axis.set_title("Abilities (A1 accuracy, A3 SRCC, A2 / 6)", fontsize=12, pad=22)
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
        for model, values in protocol_named(summary["protocol"]).scaling(summary).items():
            fraction = _fraction(model)
            if fraction is None:
                continue
            for name, value in values.items():
                curves.setdefault(name, []).append((fraction, value))
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
        stem = f"table{index + 1}_{safe_name(table.title.split(' (')[0].lower())}"
        files[f"{stem}.csv"] = table.csv().encode()
        files[f"{stem}.png"] = table.png(baseline)  # a slide's picture of it
    files["radar.png"] = png(radar(summaries))
    parts += ["![abilities](radar.png)", ""]
    curve = scaling(summaries)
    if curve is not None:
        files["scaling.png"] = png(curve)
        parts += ["![scaling](scaling.png)", ""]
    for run, summary in loaded:
        for name, figure in protocol_named(summary["protocol"]).figures(run, summary, labels).items():
            files[name] = png(figure)
            parts.append(f"![{Path(name).stem}]({name})")
    files["report.md"] = (preamble + "\n".join(parts) + "\n").encode()
    write_files_and_zip(config.out, files)
    return Path(config.out) / "report.md"
