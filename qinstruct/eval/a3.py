"""Q-Bench A3, quality assessment: correlation of a model's score with the MOS.

The score is Q-Bench's: softmax([logit(" good"), logit(" poor")] / T)[0] with T = 100 (T changes PLCC, not SRCC),
from the model layer's batched rating; beside it the Q-Align 5-level score.  SRCC and PLCC with scipy on raw
scores, plus a PLCC after the usual 4-parameter logistic fit.  CGIQA-6K is scored as Q-Bench's leaderboard does:
two halves ([:3000] and [3000:6000]), their correlations averaged.

Published Q-Bench output files (concatenated JSON objects with logit_good / logit_poor, or logit_high /
logit_low for the models that stored those) are scored by the same code, so any leaderboard row can be
recomputed from its file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..config import option
from .tables import Table
from .types import EvalModels, Protocol, Scoring, Unit, failures, image_of

QBENCH_TEMPERATURE = 100.0
DATASETS = {"spaq": "SPAQ", "koniq": "KonIQ-10k", "flive": "FLIVE", "livec": "LIVE-itw", "cgi": "CGIQA-6K",
            "agi": "AGIQA-3K", "kadid": "KADID-10k"}
LOGIT_PAIRS = (("good", "poor"), ("high", "low"))


def good_poor_score(good: np.ndarray, poor: np.ndarray, temperature: float = QBENCH_TEMPERATURE) -> np.ndarray:
    """softmax([good, poor] / T)[0], computed stably."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(good, float) - np.asarray(poor, float)) / temperature))


def _logistic(x, b1, b2, b3, b4):
    return b2 + (b1 - b2) / (1 + np.exp(-(x - b3) / np.abs(b4)))


def logistic_plcc(scores: np.ndarray, mos: np.ndarray) -> float | None:
    """PLCC after fitting the 4-parameter logistic of VQEG; None when the fit does not converge, or with no more
    points than the curve's 4 parameters (3 images crashed scipy's curve_fit with a TypeError)."""
    import warnings

    if len(scores) <= 4:
        return None

    from scipy.optimize import OptimizeWarning, curve_fit
    from scipy.stats import pearsonr

    guess = [mos.max(), mos.min(), float(np.mean(scores)), float(np.std(scores)) or 1.0]
    with np.errstate(over="ignore"), warnings.catch_warnings():  # exp overflows on the way: the curve is b2 there
        warnings.simplefilter("ignore", OptimizeWarning)  # no covariance estimate: only the fitted curve is used
        try:
            parameters, _ = curve_fit(_logistic, scores, mos, p0=guess, maxfev=20000)
        except (RuntimeError, ValueError):
            return None
        return float(pearsonr(_logistic(scores, *parameters), mos)[0])


@dataclass
class Correlation:
    n: int
    srcc: float
    plcc: float
    plcc_logistic: float | None = None

    def as_dict(self) -> dict:
        return {"n": self.n, "srcc": self.srcc, "plcc": self.plcc, "plcc_logistic": self.plcc_logistic}


def _one(scores: np.ndarray, mos: np.ndarray, logistic: bool) -> Correlation:
    from scipy.stats import pearsonr, spearmanr

    if len(scores) < 3 or np.ptp(scores) == 0 or np.ptp(mos) == 0:
        return Correlation(len(scores), math.nan, math.nan, None)
    return Correlation(len(scores), float(spearmanr(scores, mos)[0]), float(pearsonr(scores, mos)[0]),
                       logistic_plcc(scores, mos) if logistic else None)


def correlate(scores, mos, dataset: str = "", logistic: bool = True) -> Correlation:
    """SRCC / PLCC of scores against MOS; CGIQA-6K as two halves averaged (its published convention)."""
    scores, mos = np.asarray(scores, float), np.asarray(mos, float)
    if dataset_key(dataset) == "cgi" and len(scores) >= 6000:
        halves = [_one(scores[a:b], mos[a:b], logistic) for a, b in ((0, 3000), (3000, 6000))]
        fitted = [h.plcc_logistic for h in halves]
        return Correlation(len(scores), float(np.mean([h.srcc for h in halves])),
                           float(np.mean([h.plcc for h in halves])),
                           float(np.mean(fitted)) if all(f is not None for f in fitted) else None)
    return _one(scores, mos, logistic)


def dataset_key(name: str) -> str:
    """Q-Bench's short dataset name from a name or a file stem (livec, agi, cgi, ...); '' when unknown."""
    lowered = name.lower()
    return next((key for key in DATASETS if lowered == key or lowered.startswith(key)), "")


# Which logits a published file is scored with (`eval iqa --pair`): the leaderboard's notebook scores each model
# with the words it prefers -- high/low for the model whose files hold both pairs (InstructBLIP-T5; its
# "what if we do not follow the LLMs' preferred output" ablation shows good/poor is far worse for it).
PAIRS = {"auto": "high/low when every row holds it (the model's preferred words, as the leaderboard), else "
                 "good/poor", "good/poor": "logit_good / logit_poor", "high/low": "logit_high / logit_low"}
FORMULAS = {"qbench": "exp(a/T) / (exp(a/T) + exp(b/T)) in float64, as the leaderboard's notebook computes it "
                      "(the published rows)",
            "stable": "1 / (1 + exp((b - a) / T)): equal a - b give exactly equal scores, so logits stored at low "
                      "precision tie where the notebook's rounding ranks them, and SRCC moves in the third decimal"}


def qbench_scores(good, poor, temperature: float = QBENCH_TEMPERATURE) -> list[float]:
    """The leaderboard's score of each row, value for value: the notebook divides each logit by T and takes
    exp(a) / (exp(a) + exp(b)) one row at a time in float64.  Mathematically the sigmoid of (a - b) / T, but
    its rounding gives rows with the same a - b slightly different scores, and Spearman ranks those."""
    out = []
    for a, b in zip(good, poor):
        a, b = float(a) / temperature, float(b) / temperature
        out.append(float(np.exp(a) / (np.exp(a) + np.exp(b))))
    return out


def _pair(rows, requested: str, path: str) -> tuple[str, str]:
    from ..config import ConfigError

    def everywhere(pair):
        return all(pair[0] in r.logits and pair[1] in r.logits for r in rows)

    if requested != "auto":
        pair = tuple(requested.split("/"))
        if not everywhere(pair):
            raise ConfigError(f"{path}: not every row holds logit_{pair[0]} and logit_{pair[1]}")
        return pair
    for pair in (("high", "low"), ("good", "poor")):
        if everywhere(pair):
            return pair
    lacking = next((k for k, r in enumerate(rows) if not any(g in r.logits and p in r.logits
                                                             for g, p in LOGIT_PAIRS)), None)
    raise ConfigError(f"{path}: no logit pair (logit_good/logit_poor or logit_high/logit_low) is in every row"
                      + (f"; row {lacking} has neither" if lacking is not None else "; the rows mix the two pairs"))


def score_qbench_file(path: str, dataset: str | None = None, temperature: float = QBENCH_TEMPERATURE,
                      pair: str = "auto", formula: str = "qbench") -> dict:
    """A published Q-Bench output file's leaderboard row: {"file", "dataset", "n", "srcc", "plcc", "pair",
    "formula"}.  By default exactly the published computation: the model's preferred logit pair, the notebook's
    formula, scipy's correlations of (MOS, score), CGIQA-6K as the halves [:3000] and [3000:6000] averaged."""
    from scipy.stats import pearsonr, spearmanr

    from ..config import ConfigError
    from ..data.loaders import load_qbench_outputs

    rows = load_qbench_outputs(path).items
    if len(rows) < 3:
        raise ConfigError(f"{path}: {len(rows)} row(s); a correlation needs at least 3")
    good_key, poor_key = _pair(rows, pair, path)
    good, poor = [r.logits[good_key] for r in rows], [r.logits[poor_key] for r in rows]
    scores = qbench_scores(good, poor, temperature) if formula == "qbench" else \
        [float(x) for x in good_poor_score(np.array(good), np.array(poor), temperature)]
    mos = [float(r.gt_score) for r in rows]
    name = dataset or dataset_key(Path(path).stem) or Path(path).stem
    parts = [(0, 3000), (3000, 6000)] if dataset_key(name) == "cgi" else [(0, len(rows))]
    if np.ptp(scores) == 0 or np.ptp(mos) == 0:
        raise ConfigError(f"{path}: every {'score' if np.ptp(scores) == 0 else 'MOS'} is the same: no correlation")
    srcc = float(np.mean([spearmanr(mos[a:b], scores[a:b])[0] for a, b in parts]))
    plcc = float(np.mean([pearsonr(mos[a:b], scores[a:b])[0] for a, b in parts]))
    return {"file": str(path), "dataset": name, "n": len(rows), "srcc": srcc, "plcc": plcc,
            "pair": f"{good_key}/{poor_key}", "formula": formula}


@dataclass(kw_only=True)
class A3Config(EvalModels):
    COMMAND: ClassVar = ("eval", "a3")

    mos: list[str] = option(path="specs", help="MOS lists (Q-Bench A3 layout), each FILE or FILE=NAME",
                            metavar="FILE[=NAME]")
    temperature: float = option(100.0, help="softmax temperature of the good/poor score (Q-Bench: 100; SRCC does "
                                "not depend on it)", gt=0, max=1e6)


def units(config: A3Config) -> list[Unit]:
    from itertools import islice

    from ..data.loaders import stream_items

    out = []
    for spec in config.mos:
        path, _, name = spec.partition("=")
        rows = stream_items(path, "mos")  # read into units directly: a 58K-image list is held once
        root = Path(config.image_root) if config.image_root else Path(path).parent
        out += [Unit(name or Path(path).stem, i, row, image_of(root, row.img_path))
                for i, row in enumerate(islice(rows, config.limit or None))]
    return out


def score(scoring: Scoring, batch: list[Unit]) -> list[dict]:
    loaded = scoring.images(batch)
    usable = [(unit, image) for unit, (image, error) in zip(batch, loaded) if error is None]
    try:
        ratings = scoring.model.rate([image for _, image in usable], batch_size=max(1, len(usable))) if usable else []
        failure = None
    except Exception as error:  # noqa: BLE001 - these items are not written: the next run rates them again
        ratings, failure = [], str(error)
        scoring.missing_reason = f"the model failed ({failure}); run again to retry"
    records = [scoring.record(A3, u, error=e) for u, (_, e) in zip(batch, loaded) if e is not None]
    if failure is None:
        records += [scoring.record(A3, unit, mos=unit.item.gt_score, p_good=rating.p_good,
                                   good_minus_poor=rating.good_minus_poor, score5=rating.score5)
                    for (unit, _), rating in zip(usable, ratings)]
    return records


def summarize(config: A3Config, units: list[Unit], records: list[dict], missing_reason: str) -> dict:
    sets: dict[str, dict[int, Unit]] = {}
    for unit in units:
        sets.setdefault(unit.part, {})[unit.index] = unit
    models: dict[str, dict] = {}
    for spec in config.models:
        per_set = {}
        for name, rows in sets.items():
            got = {r["index"]: r for r in records if r.get("model") == spec and r.get("dataset") == name
                   and "p_good" in r and r["index"] in rows}
            order = sorted(got)
            if not order:
                continue
            mos = [rows[i].item.gt_score for i in order]
            margins = [got[i]["good_minus_poor"] for i in order]
            scores = good_poor_score(margins, [0.0] * len(margins), config.temperature) if None not in margins else \
                [got[i]["p_good"] for i in order]
            qalign = correlate([got[i]["score5"] for i in order], mos, name, logistic=False)
            per_set[name] = {**correlate(scores, mos, name).as_dict(), "qalign_srcc": qalign.srcc,
                             "qalign_plcc": qalign.plcc, "of": len(rows)}
        models[spec] = per_set
    return {"protocol": "a3", "temperature": config.temperature, "models": models,
            "failed": failures(records, config.models, len(units), missing_reason)}


def tables(summary: dict) -> list[Table]:
    datasets = sorted({d for s in summary["models"].values() for d in s})
    columns = [f"{d} {k}" for d in datasets for k in ("SRCC", "PLCC")]
    rows = {m: [s.get(d, {}).get(k) for d in datasets for k in ("srcc", "plcc")] for m, s in summary["models"].items()}
    return [Table("A3 quality assessment (SRCC / PLCC of the good/poor score)", columns, rows)]


def radar(summary: dict) -> dict[str, dict[str, float | None]]:
    """SRCC per dataset, a negative one shown as 0."""
    return {model: {f"A3 {dataset}": max(r["srcc"], 0) if r["srcc"] == r["srcc"] else None
                    for dataset, r in result.items()} for model, result in summary["models"].items()}


def scaling(summary: dict) -> dict[str, dict[str, float]]:
    return {model: {f"A3 SRCC {dataset}": r["srcc"] for dataset, r in result.items()}
            for model, result in summary["models"].items()}


def scatter(run: Path, model: str, dataset: str, label: str | None = None):
    """Each image's score against its MOS."""
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


def figures(run: Path, summary: dict, labels: dict) -> dict:
    """A scatter of score against MOS per model and dataset, named for the report."""
    from ..workspace import safe_name

    return {f"scatter_{safe_name(labels[model])}_{safe_name(dataset)}.png": scatter(run, model, dataset,
                                                                                   labels[model])
            for model, per_set in summary["models"].items() for dataset in per_set}


def headline(summary: dict) -> dict:
    return {spec: {d: v["srcc"] for d, v in s.items()} for spec, s in summary["models"].items()}


A3 = Protocol(
    "a3", "A3 quality assessment", "A3 quality assessment: SRCC / PLCC of the good/poor score against MOS",
    A3Config, units, score, summarize, tables, radar, headline, part_field="dataset", scaling=scaling,
    figures=figures)
