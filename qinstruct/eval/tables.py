"""A table of results as the paper prints it: one row per model, +Δ against the baseline, the best in bold; and
short model names for tables, legends and file names."""
from __future__ import annotations

import csv
import io
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path


def model_labels(models) -> dict[str, str]:
    """Short names for tables, legends and file names: local folders lose the folders they all share (a
    workspace's long prefix says nothing); hub ids and endpoints stay as written.  CSV files keep the specs."""
    models = list(models)
    local = {m: Path(m).resolve() for m in models if Path(m).is_absolute() or Path(m).exists()}
    common = Path(os.path.commonpath([p.parent for p in local.values()])) if local else None
    return {m: str(local[m].relative_to(common)) if m in local else m for m in models}


HEADER_CHARS = 17  # a column header's line in a table's picture: what 1.7 inches hold at 10 pt
SMALL_SAMPLE = 200  # below this many items an accuracy's 95% interval is wider than ±0.07


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: dict[str, list[float | None]]  # model -> values
    lower_is_better: tuple[str, ...] = ()  # columns whose best (in bold) is the smallest value
    counts: dict[str, int | None] | None = None  # items behind each model's row (accuracies: flag small samples)
    unscored: dict[str, int] | None = None  # items each model never answered, left out of its row's figures

    def cells(self, baseline: str | None) -> list[tuple[str, list[tuple[str, bool]]]]:
        """Each row's label and its cells as printed: the value, +Δ against the baseline, whether it is the best."""
        base = self.rows.get(baseline) if baseline else None
        best = [(min if column in self.lower_is_better else max)(
            (r[c] for r in self.rows.values() if r[c] is not None), default=None)
            for c, column in enumerate(self.columns)]
        labels = model_labels(self.rows)
        out = []
        for model, values in self.rows.items():
            row = []
            for c, value in enumerate(values):
                if value is None:
                    row.append(("–", False))
                    continue
                cell = f"{value:.3f}"
                if base is not None and model != baseline and base[c] is not None:
                    cell += f" ({value - base[c]:+.3f})"
                row.append((cell, value == best[c] and len(self.rows) > 1))
            out.append((labels[model], row))
        return out

    def markdown(self, baseline: str | None) -> str:
        lines = [f"### {self.title}", "", "| model | " + " | ".join(self.columns) + " |",
                 "|---|" + "---:|" * len(self.columns)]
        for label, row in self.cells(baseline):
            lines.append(f"| {label} | " + " | ".join(f"**{c}**" if bold else c for c, bold in row) + " |")
        for note in self.notes():
            lines += ["", note]
        return "\n".join(lines) + "\n"

    def notes(self) -> list[str]:
        """The lines under the table: a small sample, items left unscored."""
        return [note for note in (self.small_sample_note(), self.unscored_note()) if note]

    def unscored_note(self) -> str | None:
        """Which models had items that never got a score (a missing image, a failing model): their rows are over
        the others, and a row of dashes is a model that never answered, not one that was always wrong."""
        left = {model: k for model, k in (self.unscored or {}).items() if k}
        if not left:
            return None
        labels = model_labels(self.rows)
        counts = self.counts or {}
        parts = [f"{labels.get(model, model)} {k} of {k + counts[model]} items" if counts.get(model) is not None
                 else f"{labels.get(model, model)} {k} items" for model, k in left.items()]
        return f"Not scored, left out of the figures: {', '.join(parts)}."

    def png(self, baseline: str | None) -> bytes:
        """The table as a picture for a slide: large type, the best in bold, the small-sample note under it."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        rows = self.cells(baseline)
        notes = self.notes()
        # a header wider than its column wraps ("A2 names an absent distortion" ran into its neighbours)
        headers = ["model", *(textwrap.fill(column, HEADER_CHARS) for column in self.columns)]
        header_rows = 0.45 + 0.55 * max(header.count("\n") + 1 for header in headers)  # in table rows
        line = 0.36  # inches per table row
        title, footer = 0.45, 0.1 + 0.25 * len(notes)
        height = title + line * (len(rows) + header_rows) + footer
        figure = Figure(figsize=(2.4 + 1.7 * len(self.columns), height), dpi=150)
        axis = figure.add_axes((0, 0, 1, 1))
        axis.axis("off")
        table = axis.table(cellText=[[label, *(c for c, _ in row)] for label, row in rows],
                           colLabels=headers, cellLoc="center",
                           bbox=(0.005, footer / height, 0.99, line * (len(rows) + header_rows) / height))
        table.auto_set_font_size(False)
        table.set_fontsize(10)
        for (r, c), cell in table.get_celld().items():
            cell.set_height(header_rows if r == 0 else 1)  # proportions: the bbox scales them to fit
            if r == 0 or (c > 0 and rows[r - 1][1][c - 1][1]):
                cell.set_text_props(fontweight="bold")
        figure.text(0.5, 1 - 0.12 / height, self.title, fontsize=12, ha="center", va="top")
        for k, note in enumerate(reversed(notes)):  # the last note lowest
            figure.text(0.01, (0.08 + 0.25 * k) / height, note.replace("⚠ ", "! "), fontsize=9, color="#854d0e")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()

    def small_sample_note(self) -> str | None:
        """A warning under a table of accuracies over few items: at N = 40 a 0.15 difference is noise."""
        sizes = [n for n in (self.counts or {}).values() if n]
        if not sizes or min(sizes) >= SMALL_SAMPLE:
            return None
        n = min(sizes)
        half_width = 1.96 * (0.25 / n) ** 0.5  # the 95% interval of an accuracy near 0.5
        return (f"⚠ Small sample: N = {n} items per model; an accuracy is known to about ±{half_width:.2f} (95%), "
                "so smaller differences between rows may be noise.")

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        unscored = self.unscored is not None  # a column of its own: a count, not one of the compared figures
        writer.writerow(["model", *self.columns, *(["Unscored"] if unscored else [])])
        for model, values in self.rows.items():
            writer.writerow([model, *("" if v is None else round(v, 6) for v in values),
                             *([self.unscored.get(model, 0)] if unscored else [])])
        return buffer.getvalue()
