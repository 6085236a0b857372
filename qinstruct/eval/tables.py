"""A table of results as the paper prints it: one row per model, +Δ against the baseline, the best in bold; and
short model names for tables, legends and file names."""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path


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
    lower_is_better: tuple[str, ...] = ()  # columns whose best (in bold) is the smallest value

    def markdown(self, baseline: str | None) -> str:
        base = self.rows.get(baseline) if baseline else None
        best = [(min if column in self.lower_is_better else max)(
            (r[c] for r in self.rows.values() if r[c] is not None), default=None)
            for c, column in enumerate(self.columns)]
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
