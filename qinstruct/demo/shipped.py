"""The trained micro demo models the project ships in assets/models/, and how they get there.

`qinstruct demo reproduce --size full --ship assets/models` writes each strategy's model in half precision
with a manifest (the command, seed, commit, recipe and its held-out metrics), plus the reproduction's report;
the studio copies them into its workspace's models/ on start (so every path the page shows stays relative to
the workspace) and opens the Chat tab on micro-baseline (left) and micro-mix (right).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from ..models.known import SHIPPED as ASSETS

MANIFEST = "manifest.json"
SHIPPED_OUT = "reproduction"  # the --out a shipped report and manifest show: a reader's folder, not a temporary one
REPORT = "report"  # assets/models/report/: the reproduction's tables and radar, shown by the Evaluate tab
BASELINE, TUNED = "micro-baseline", "micro-mix"
LABEL = "micro {strategy}: a 2M-parameter demo model trained on the synthetic demo world ({what})"
WHAT = {"baseline": "content questions only", "mix": "content + low-level data mixed",
        "after": "low-level data after the baseline", "replace": "low-level data only"}


def commit_of(folder: Path) -> str | None:
    """The commit checked out in the repository holding `folder`, read from .git itself (no git process)."""
    for candidate in [Path(folder).resolve(), *Path(folder).resolve().parents]:
        git = candidate / ".git"
        if git.is_dir():
            break
    else:
        return None
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None  # a detached HEAD holds the commit itself
        ref = head[len("ref: "):]
        if (git / ref).is_file():
            return (git / ref).read_text().strip() or None
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        return None
    return None


def headline(a1: dict | None = None, a3: dict | None = None, content: dict | None = None,
             a2: dict | None = None) -> dict:
    """The held-out figures a manifest and the Evaluate tab show for one model (strategies.json's entry)."""
    a1, three, two = a1 or {}, (a3 or {}).get("demo", {}), a2 or {}
    return {"a1_likelihood_option_tokens": a1.get("likelihood_option_only", {}).get("overall"),
            "a1_likelihood_whole_sequence": a1.get("likelihood", {}).get("overall"),
            "a1_letter": a1.get("letter", {}).get("overall"),
            "a1_by_type_option_tokens": a1.get("likelihood_option_only", {}).get("by_type"),
            "a1_by_concern_option_tokens": a1.get("likelihood_option_only", {}).get("by_concern"),
            "content_option_tokens": (content or {}).get("likelihood_option_only", {}).get("overall"),
            "a2_sum": two.get("sum"), "a2_names_true_distortion": two.get("names_true_distortion"),
            "a2_names_absent_distortion": two.get("names_absent_distortion"),
            "a3_srcc": three.get("srcc"), "a3_plcc": three.get("plcc")}


def ship(root: Path, models: dict[str, Path], dest: Path, command: str, seed: int, size: str,
         report_lines: dict[str, str] | None = None) -> list[Path]:
    """Half-precision copies of the trained models with manifests, and the report, into dest; `report_lines`
    rewrites the report's text as it is shipped (the command as run -> as a reader would run it)."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from ..models import micro  # noqa: F401 - registers the micro tower before from_pretrained reads its config

    strategies = json.loads((root / "report" / "strategies.json").read_text(encoding="utf-8"))
    written = []
    for strategy, source in models.items():
        folder = dest / f"micro-{strategy}"
        shutil.rmtree(folder, ignore_errors=True)
        model = AutoModelForImageTextToText.from_pretrained(source, dtype=torch.float16)
        model.save_pretrained(folder)
        AutoProcessor.from_pretrained(source).save_pretrained(folder)
        label = LABEL.format(strategy=strategy, what=WHAT[strategy])
        (folder / "qinstruct.json").write_text(json.dumps({"label": label, "trained": True}) + "\n")
        train = json.loads((source / "qinstruct.json").read_text(encoding="utf-8"))
        manifest = {"name": folder.name, "strategy": strategy, "label": label, "command": command, "seed": seed,
                    "size": size, "commit": commit_of(Path(__file__).parent), "dtype": "float16",
                    "training": train.get("metrics"), "held_out": headline(**strategies.get(strategy, {}))}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        written.append(folder)
    report = dest / REPORT
    shutil.rmtree(report, ignore_errors=True)
    report.mkdir(parents=True)
    for name in ("radar.png", "strategies.json"):
        shutil.copy2(root / "report" / name, report / name)
    text = (root / "report" / "report.md").read_text(encoding="utf-8")
    for ran, shown in (report_lines or {}).items():
        text = text.replace(ran, shown)
    (report / "report.md").write_text(text, encoding="utf-8")
    return written


def shipped_names(assets: Path = ASSETS) -> list[str]:
    return sorted(p.name for p in assets.glob("micro-*") if (p / MANIFEST).is_file())


def install(models_dir: Path, assets: Path = ASSETS) -> list[str]:
    """Copy the shipped models into a workspace's models/ (again when the shipped manifest changed); returns
    the names installed or already current."""
    names = []
    for name in shipped_names(assets):
        source, target = assets / name, models_dir / name
        if (target / MANIFEST).is_file() and (target / MANIFEST).read_bytes() == (source / MANIFEST).read_bytes():
            names.append(name)
            continue
        # copied aside, then renamed: a crash mid-copy never leaves half a model under its name
        staging = models_dir / f".{name}.{os.getpid()}.copying"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
        shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:  # another studio process installed it first
            shutil.rmtree(staging, ignore_errors=True)
        names.append(name)
    return names


def shipped_report(assets: Path = ASSETS) -> str | None:
    """The reproduction's report, its tables only (the radar is shipped beside it as radar.png), the A1 table
    that separates the models most first (reports written before that order existed are reordered here)."""
    path = assets / REPORT / "report.md"
    if not path.is_file():
        return None
    text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("!["))
    return separating_first(text, "### A1 ")


def _overall_spread(section: str) -> float:
    """max - min of a Markdown table's last column (its first number per row)."""
    values = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 1 and cells[0] not in ("model", "---"):
            number = re.match(r"\**(-?[0-9.]+)", cells[-1])
            if number:
                values.append(float(number.group(1)))
    return max(values) - min(values) if len(values) > 1 else 0.0


def separating_first(markdown: str, heading: str) -> str:
    """The consecutive sections starting with `heading`, reordered by how far apart their rows' last column is."""
    parts = re.split(r"(?m)^(?=### )", markdown)
    chosen = [i for i, part in enumerate(parts) if part.startswith(heading)]
    if len(chosen) < 2 or chosen != list(range(chosen[0], chosen[-1] + 1)):
        return markdown
    ordered = sorted((parts[i] for i in chosen), key=lambda part: -_overall_spread(part))
    return "".join(parts[:chosen[0]] + ordered + parts[chosen[-1] + 1:])


def shipped_summaries(assets: Path = ASSETS) -> tuple[dict, list[dict]]:
    """The shipped models' figures (strategies.json) and, from them, one summary per protocol as an evaluation
    run writes it (A2 judged offline, as the reproduction always judges); ({}, []) without the figures."""
    path = assets / REPORT / "strategies.json"
    try:
        figures = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, []
    if not isinstance(figures, dict) or not all(isinstance(f, dict) for f in figures.values()):
        return {}, []
    summaries = [{"protocol": protocol, "models": {name: f[protocol] for name, f in figures.items() if protocol in f},
                  **({"judge": "offline"} if protocol == "a2" else {})}
                 for protocol in ("a1", "a2", "a3") if any(protocol in f for f in figures.values())]
    return figures, summaries


def shipped_radar(assets: Path = ASSETS):
    """The shipped models' radar drawn from their figures by today's report code, so its A1 axes come from the
    protocol that separates the models most and say which; None without the figures."""
    from ..eval.report import radar

    _, summaries = shipped_summaries(assets)
    return radar(summaries) if summaries else None


def shipped_pictures(assets: Path = ASSETS) -> list[tuple[bytes, str]]:
    """Each shipped table as a picture for a slide (PNG, title), drawn from the figures as an evaluation's own
    tables are: the strategies side by side first, then every protocol's tables."""
    from ..eval.report import tables
    from .strategies import strategies_table

    figures, summaries = shipped_summaries(assets)
    if not summaries:
        return []
    baseline = "baseline" if "baseline" in figures else None
    shown = [strategies_table(figures), *tables(summaries)]
    return [(table.png(baseline), table.title) for table in shown]


def default_pair(models_dir: Path, root: Path) -> tuple[str | None, str | None]:
    """The Chat tab's default sides, relative to the workspace: the shipped baseline and tuned models."""
    installed = install(models_dir)
    pick = [str((models_dir / name).relative_to(root)) if name in installed else None for name in (BASELINE, TUNED)]
    return pick[0], pick[1]
