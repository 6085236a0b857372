"""The arena leaderboard from the Chat tab's votes (as FastChat's elo_analysis reports for its arena).

Each vote compares the model shown as A with the one shown as B: "A is better", "B is better", "Tie" or "Both
are bad" (a tie, as FastChat counts "tie (bothbad)").  Ratings are Bradley-Terry strengths fitted by maximum
likelihood (a tie counts as half a win each way), on the Elo scale (400 per factor of 10 in odds, mean 1000);
95% intervals from a bootstrap over votes.  Only blind votes count by default: a vote cast knowing which side
is which is not a preference between answers.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..fileio import read_jsonl

SCALE, BASE, CENTER = 400.0, 10.0, 1000.0
OUTCOMES = {"A is better": 1.0, "B is better": 0.0, "Tie": 0.5, "Both are bad": 0.5}


@dataclass(frozen=True)
class Vote:
    a: str
    b: str
    outcome: float  # 1: A won, 0: B won, 0.5: a tie


def load_votes(path: str, include_open: bool = False) -> list[Vote]:
    """The votes of a Chat log (workspace/chat/log.jsonl): blind ones, or all with include_open."""
    votes = []
    for record in read_jsonl(path):
        if record.get("type") != "vote" or record.get("vote") not in OUTCOMES:
            continue
        if not record.get("blind") and not include_open:
            continue
        if isinstance(record.get("a"), str) and isinstance(record.get("b"), str) and record["a"] != record["b"]:
            votes.append(Vote(record["a"], record["b"], OUTCOMES[record["vote"]]))
    return votes


def bradley_terry(votes: list[Vote], models: list[str], iterations: int = 200) -> np.ndarray:
    """Elo-scaled strengths by maximum likelihood (minorise-maximise updates; ties split), mean CENTER."""
    index = {m: i for i, m in enumerate(models)}
    wins = np.zeros((len(models), len(models)))
    for vote in votes:
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
    record: dict[str, dict[str, float]]  # wins, ties, losses per model
    win_rate: dict[str, dict[str, float | None]]  # row model's share of points against the column model
    pairs: dict[str, int] = field(default_factory=dict)  # "A vs B": votes

    def as_dict(self) -> dict:
        rows = sorted(zip(self.models, self.ratings, self.intervals), key=lambda r: -r[1])
        return {"ratings": [{"model": m, "rating": round(r, 1), "ci95": [round(lo, 1), round(hi, 1)],
                             **self.record[m]} for m, r, (lo, hi) in rows],
                "win_rate": self.win_rate, "votes_per_pair": self.pairs}


def leaderboard(votes: list[Vote], bootstrap: int = 200, seed: int = 0) -> Leaderboard:
    models = sorted({v.a for v in votes} | {v.b for v in votes})
    if not models:
        return Leaderboard([], [], [], {}, {}, {})
    ratings = bradley_terry(votes, models)
    rng = np.random.default_rng(seed)
    samples = np.array([bradley_terry([votes[k] for k in rng.integers(len(votes), size=len(votes))], models)
                        for _ in range(bootstrap)]) if bootstrap else np.array([ratings])
    intervals = [(float(np.percentile(samples[:, i], 2.5)), float(np.percentile(samples[:, i], 97.5)))
                 for i in range(len(models))]
    record: dict[str, Counter] = defaultdict(Counter)
    points: dict[tuple[str, str], list[float]] = defaultdict(list)
    for vote in votes:
        for me, other, mine in ((vote.a, vote.b, vote.outcome), (vote.b, vote.a, 1 - vote.outcome)):
            record[me]["wins" if mine == 1 else "losses" if mine == 0 else "ties"] += 1
            points[(me, other)].append(mine)
    win_rate = {m: {o: (float(np.mean(points[(m, o)])) if points[(m, o)] else None) for o in models if o != m}
                for m in models}
    pairs = Counter(" vs ".join(sorted((v.a, v.b))) for v in votes)
    return Leaderboard(models, [float(r) for r in ratings], intervals,
                       {m: {k: record[m][k] for k in ("wins", "ties", "losses")} for m in models}, win_rate,
                       dict(pairs))
