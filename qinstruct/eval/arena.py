"""The arena leaderboard from the Chat tab's votes (as FastChat's elo_analysis reports for its arena), and how it
agrees with A3.

The Chat log (workspace/chat/log.jsonl) holds one JSON object per line; a vote is

    {"type": "vote", "vote": "A is better" | "B is better" | "Tie" | "Both are bad", "a": SPEC, "b": SPEC,
     "blind": true, "session": ID, "round": ID, "excluded": REASON (only when the studio refused to count it), ...}

A blind round is one question under one random A/B order: the studio draws a new order for every round and
takes one vote per round.  What counts: blind votes, the first of their round.  Left out, and counted by reason:
votes cast outside blind mode (`--include-open` counts them), a second vote in one round (after the reveal, or twice
on one answer; logs written before rounds existed drew one order per conversation, so there every vote after a
conversation's first is one), and votes the studio marked `excluded` when they were cast.

Ratings are Bradley-Terry strengths fitted by maximum likelihood on the decisive votes and ties (a tie counts as
half a win each way), on the Elo scale (400 per factor of 10 in odds, mean 1000); 95% intervals from a bootstrap
over votes.  "Both are bad" says nothing about which is better: it is counted apart, per model, never as a tie
(FastChat folds it into ties; its users asked for it apart).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import read_jsonl

SCALE, BASE, CENTER = 400.0, 10.0, 1000.0
BOTH_BAD = "Both are bad"
OUTCOMES = {"A is better": 1.0, "B is better": 0.0, "Tie": 0.5, BOTH_BAD: None}
OPEN, REPEATED = "cast outside blind mode", "a second vote in one round (after the reveal)"


@dataclass(frozen=True)
class Vote:
    a: str
    b: str
    outcome: float | None  # 1: A won, 0: B won, 0.5: a tie, None: both are bad


@dataclass
class VoteLog:
    votes: list[Vote]
    excluded: Counter = field(default_factory=Counter)  # reason -> votes left out


def _round_of(record: dict):
    """The round a vote belongs to: (session, round); logs from before rounds drew one order per conversation."""
    session = record.get("session")
    return None if not isinstance(session, str) else (session, record.get("round"))


def read_votes(path: str, include_open: bool = False) -> VoteLog:
    """The counted votes of a Chat log and the ones left out, by reason."""
    log = VoteLog([])
    voted_rounds = set()
    for record in read_jsonl(path):
        if record.get("type") != "vote" or record.get("vote") not in OUTCOMES:
            continue
        a, b = record.get("a"), record.get("b")
        if not (isinstance(a, str) and isinstance(b, str) and a != b):
            continue
        round_key = _round_of(record)
        if record.get("excluded"):
            log.excluded[str(record["excluded"])] += 1
        elif round_key is not None and round_key in voted_rounds:
            log.excluded[REPEATED] += 1
        elif not record.get("blind") and not include_open:
            log.excluded[OPEN] += 1
        else:
            log.votes.append(Vote(a, b, OUTCOMES[record["vote"]]))
        if round_key is not None and not record.get("excluded"):
            voted_rounds.add(round_key)
    return log


def bradley_terry(votes: list[Vote], models: list[str], iterations: int = 200) -> np.ndarray:
    """Elo-scaled strengths by maximum likelihood (minorise-maximise updates; ties split), mean CENTER."""
    index = {m: i for i, m in enumerate(models)}
    wins = np.zeros((len(models), len(models)))
    for vote in votes:
        if vote.outcome is None:
            continue
        i, j = index[vote.a], index[vote.b]
        wins[i, j] += vote.outcome
        wins[j, i] += 1 - vote.outcome
    games = wins + wins.T
    strength = np.ones(len(models))
    prior = 0.01  # a tiny pseudo-game against the average keeps unbeaten and winless models finite
    for _ in range(iterations):
        total = wins.sum(1) + prior
        denominator = (games / (strength[:, None] + strength[None, :])).sum(1) + 2 * prior / (strength + 1)
        strength = total / denominator
        strength /= np.exp(np.mean(np.log(strength)))
    ratings = SCALE * np.log(strength) / np.log(BASE)
    return ratings - ratings.mean() + CENTER


@dataclass
class Leaderboard:
    models: list[str]
    ratings: list[float]
    intervals: list[tuple[float, float]]
    record: dict[str, dict[str, int]]  # wins, ties, losses, both bad per model
    win_rate: dict[str, dict[str, float | None]]  # row model's share of points against the column model
    pairs: dict[str, int] = field(default_factory=dict)  # "A vs B": counted votes (both-bad ones included)
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> votes left out

    def as_dict(self) -> dict:
        rows = sorted(zip(self.models, self.ratings, self.intervals), key=lambda r: -r[1])
        return {"ratings": [{"model": m, "rating": round(r, 1), "ci95": [round(lo, 1), round(hi, 1)],
                             **self.record[m]} for m, r, (lo, hi) in rows],
                "win_rate": self.win_rate, "votes_per_pair": self.pairs, "excluded": self.excluded}


RECORD_KEYS = ("wins", "ties", "losses", "both_bad")


def leaderboard(log: VoteLog | list[Vote], bootstrap: int = 200, seed: int = 0) -> Leaderboard:
    log = log if isinstance(log, VoteLog) else VoteLog(list(log))
    votes = log.votes
    models = sorted({v.a for v in votes} | {v.b for v in votes})
    if not models:
        return Leaderboard([], [], [], {}, {}, {}, dict(log.excluded))
    rated = [v for v in votes if v.outcome is not None]
    ratings = bradley_terry(rated, models)
    rng = np.random.default_rng(seed)
    samples = np.array([bradley_terry([rated[k] for k in rng.integers(len(rated), size=len(rated))], models)
                        for _ in range(bootstrap)]) if bootstrap and rated else np.array([ratings])
    intervals = [(float(np.percentile(samples[:, i], 2.5)), float(np.percentile(samples[:, i], 97.5)))
                 for i in range(len(models))]
    record: dict[str, Counter] = defaultdict(Counter)
    points: dict[tuple[str, str], list[float]] = defaultdict(list)
    for vote in votes:
        if vote.outcome is None:
            record[vote.a]["both_bad"] += 1
            record[vote.b]["both_bad"] += 1
            continue
        for me, other, mine in ((vote.a, vote.b, vote.outcome), (vote.b, vote.a, 1 - vote.outcome)):
            record[me]["wins" if mine == 1 else "losses" if mine == 0 else "ties"] += 1
            points[(me, other)].append(mine)
    win_rate = {m: {o: (float(np.mean(points[(m, o)])) if points[(m, o)] else None) for o in models if o != m}
                for m in models}
    pairs = Counter(" vs ".join(sorted((v.a, v.b))) for v in votes)
    return Leaderboard(models, [float(r) for r in ratings], intervals,
                       {m: {k: record[m][k] for k in RECORD_KEYS} for m in models}, win_rate, dict(pairs),
                       dict(log.excluded))


def a3_srcc(summaries: list[dict]) -> dict[str, float]:
    """Each model's A3 SRCC (the mean over its MOS sets) from A3 summaries; a later summary's model wins."""
    out = {}
    for summary in summaries:
        if summary.get("protocol") != "a3":
            continue
        for model, sets in summary.get("models", {}).items():
            values = [r["srcc"] for r in sets.values()
                      if isinstance(r, dict) and isinstance(r.get("srcc"), (int, float)) and not np.isnan(r["srcc"])]
            if values:
                out[model] = float(np.mean(values))
    return out


def _same_model(name: str, known: dict[str, float]) -> str | None:
    """The A3 entry for an arena model: the same spec, else the same folder name (specs differ by their path)."""
    if name in known:
        return name
    matches = [k for k in known if Path(k.rstrip("/")).name == Path(name.rstrip("/")).name]
    return matches[0] if len(matches) == 1 else None


@dataclass
class Agreement:
    models: list[str]
    ratings: list[float]
    srcc: list[float]
    tau: float | None  # Kendall's tau-b between the arena's ratings and A3 SRCC (None: fewer than 2 models)
    p_value: float | None

    def as_dict(self) -> dict:
        return {"models": self.models, "arena_rating": [round(r, 1) for r in self.ratings],
                "a3_srcc": [round(s, 4) for s in self.srcc], "kendall_tau": self.tau, "p_value": self.p_value}

    def line(self) -> str:
        if self.tau is None:
            return (f"arena vs A3: {len(self.models)} model(s) with both a rating and an A3 SRCC; the rankings need "
                    "two or more")
        return (f"arena vs A3 (SRCC, mean over MOS sets), {len(self.models)} models: Kendall τ = {self.tau:+.2f} "
                f"(p = {self.p_value:.2f}; with so few models only τ = ±1 says much)")


def agreement(board: Leaderboard, srcc: dict[str, float]) -> Agreement:
    """How the people's ranking (arena) agrees with the metric's (A3 SRCC), by Kendall's tau."""
    from scipy.stats import kendalltau

    pairs = [(m, r, srcc[k]) for m, r in zip(board.models, board.ratings) if (k := _same_model(m, srcc))]
    models, ratings, values = [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs]
    if len(pairs) < 2:
        return Agreement(models, ratings, values, None, None)
    result = kendalltau(ratings, values)
    tau = float(result.statistic)
    return Agreement(models, ratings, values, None if tau != tau else tau,
                     None if result.pvalue != result.pvalue else float(result.pvalue))
