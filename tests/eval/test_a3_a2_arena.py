"""A3 against the published Q-Bench rows, A2 arithmetic and judges (offline, and a real local endpoint), the
arena's Bradley-Terry fit on votes of known strengths."""
import asyncio
import json

import numpy as np
import pytest

from qinstruct.cli import main
from qinstruct.convert.backends import ConversionError, create_backend
from qinstruct.convert.cache import ResponseCache
from qinstruct.eval.a2 import Reference, dimension_scores, distortion_mentions, mention_shares, offline_judge
from qinstruct.eval.a3 import correlate
from qinstruct.eval.a3 import good_poor_score as score
from qinstruct.eval.arena import OPEN, REPEATED, Vote, leaderboard, read_votes

from ..helpers.openai_server import completion, openai_server

PUBLISHED = {"livec": (0.445, 0.481), "agi": (0.664, 0.754), "cgi": (0.285, 0.297)}


def test_published_rows_to_the_third_decimal(shared_data, capsys):
    files = [str(shared_data / f"qbench/iqa_outputs/llava_v1.5/{name}.json") for name in PUBLISHED]
    assert main(["eval", "iqa", "--qbench-outputs", *files, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["dataset"] for r in rows] == list(PUBLISHED) and [r["n"] for r in rows] == [1169, 2982, 6000]
    for row in rows:
        assert (round(row["srcc"], 3), round(row["plcc"], 3)) == PUBLISHED[row["dataset"]]


def notebook_row(path, pair=("good", "poor"), halves=False):
    """The leaderboard's recipe, restated plainly (leaderboards/IQA_outputs/eval.ipynb): the file as one JSON
    list, each score exp(a/100) / (exp(a/100) + exp(b/100)) row by row, scipy on (MOS, score)."""
    from scipy.stats import pearsonr, spearmanr

    text = open(path).read().replace("}{", "},{")
    rows = json.loads(text if text[0] == "[" else "[" + text + "]")
    parts = [rows[:3000], rows[3000:6000]] if halves else [rows]
    s = p = 0.0
    for part in parts:
        mos = [float(r["gt_score"]) for r in part]
        scores = []
        for r in part:
            a, b = r[f"logit_{pair[0]}"] / 100, r[f"logit_{pair[1]}"] / 100
            scores.append(np.exp(a) / (np.exp(a) + np.exp(b)))
        s, p = s + spearmanr(mos, scores)[0], p + pearsonr(mos, scores)[0]
    return s / len(parts), p / len(parts)


def test_published_rows_are_the_notebooks_values_exactly(shared_data, capsys):
    for name in PUBLISHED:
        path = str(shared_data / f"qbench/iqa_outputs/llava_v1.5/{name}.json")
        assert main(["eval", "iqa", "--qbench-outputs", path, "--json"]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert (row["srcc"], row["plcc"]) == notebook_row(path, halves=name == "cgi")  # equal, not approximately
        assert row["pair"] == "good/poor" and row["formula"] == "qbench"


def test_a_file_with_both_pairs_is_scored_with_high_low_and_bf16_ties_as_published(tmp_path, capsys):
    """InstructBLIP-T5's files hold good/poor and high/low: the leaderboard uses high/low.  Its logits are bf16
    values, so many rows share a - b: the notebook's formula ranks them by rounding, a stable sigmoid ties them."""
    rng = np.random.default_rng(3)
    bf16 = lambda x: np.round(np.asarray(x) * 8) / 8  # noqa: E731 - logits on a 1/8 grid, as bf16 stores them
    mos = rng.uniform(0, 100, 400)
    high = bf16(rng.normal(-4, 1, 400))
    low = bf16(high - 4 + rng.normal(0, 0.5, 400))  # high/low carries no signal here...
    good, poor = bf16(mos / 20 + rng.normal(0, 1, 400)), bf16(np.zeros(400))  # ...good/poor does
    path = tmp_path / "livec.json"
    path.write_text("".join(json.dumps({"img_path": f"{i}.bmp", "gt_score": float(m), "logit_good": float(g),
                                        "logit_poor": float(p), "logit_high": float(h), "logit_low": float(lo)})
                            for i, (m, g, p, h, lo) in enumerate(zip(mos, good, poor, high, low))))
    assert main(["eval", "iqa", "--qbench-outputs", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "(logit_high/logit_low, qbench formula)" in shown  # said which pair and which formula
    rows = {}
    for pair in ("auto", "good/poor"):
        for formula in ("qbench", "stable"):
            assert main(["eval", "iqa", "--qbench-outputs", str(path), "--json", "--pair", pair,
                         "--formula", formula]) == 0
            rows[pair, formula] = json.loads(capsys.readouterr().out)[0]
    assert (rows["auto", "qbench"]["srcc"], rows["auto", "qbench"]["plcc"]) == notebook_row(path, ("high", "low"))
    assert rows["good/poor", "qbench"]["srcc"] > rows["auto", "qbench"]["srcc"] + 0.5  # not the published pair
    margins = high - low
    assert len(set(margins)) < len(margins) / 2  # many rows share a - b: the case where the formulas part
    assert rows["auto", "stable"]["srcc"] != rows["auto", "qbench"]["srcc"]


def test_cgiqa_halves_and_temperature():
    rng = np.random.default_rng(0)
    mos = rng.uniform(0, 5, 6000)
    margin = mos + rng.normal(0, 1, 6000) + np.repeat([0.0, 4.0], 3000)  # the second half's scores run higher
    halves = correlate(score(margin, 0, 1), mos, "cgi")
    whole = correlate(score(margin, 0, 1), mos, "something")
    assert halves.srcc == pytest.approx((correlate(score(margin[:3000], 0, 1), mos[:3000]).srcc
                                         + correlate(score(margin[3000:], 0, 1), mos[3000:]).srcc) / 2)
    assert halves.srcc > whole.srcc + 0.1  # scored as one set the offset between the halves costs rank order
    t1, t100 = correlate(score(margin[:3000], 0, 1), mos[:3000]), correlate(score(margin[:3000], 0, 100), mos[:3000])
    assert t1.srcc == pytest.approx(t100.srcc) and t1.plcc != pytest.approx(t100.plcc)  # T moves PLCC, not SRCC


def test_dimension_scores_are_p1_plus_2_p2():
    scores = [{"completeness": 2, "precision": 1, "relevance": 0}, {"completeness": 1, "precision": 1,
                                                                    "relevance": 2}]
    result = dimension_scores(scores)
    assert result["completeness"] == 1.5 and result["precision"] == 1.0 and result["relevance"] == 1.0
    assert result["sum"] == 3.5 and result["n"] == 2


def test_offline_judge_knows_the_distortion_and_level():
    blurred = Reference("x.png", "", attribute="blur", level="poor")
    good = offline_judge("The image is blurry and out of focus; the quality of the image is poor.", blurred)
    wrong = offline_judge("There is heavy noise and grain. The quality of the image is excellent.", blurred)
    content = offline_judge("A cat sits on a sofa next to a cup.", blurred)
    assert good == {"completeness": 2, "precision": 2, "relevance": 2}
    assert wrong["precision"] == 0 and wrong["completeness"] == 1
    assert content == {"completeness": 0, "precision": 2, "relevance": 0}


def test_mentions_of_the_true_and_of_absent_distortions_negations_aside():
    blurred, pristine = Reference("x.png", "", "blur", "poor", True), Reference("y.png", "", None, "good", True)
    contradicting = "The image is sharp and free of visible noise, but not very clear."
    assert distortion_mentions(contradicting, blurred) == {"names_true": False, "names_absent": False}
    assert distortion_mentions("No noise, but heavy blur.", blurred) == {"names_true": True, "names_absent": False}
    assert distortion_mentions("It is blurry and grainy.", blurred) == {"names_true": True, "names_absent": True}
    assert distortion_mentions("It is grainy.", pristine) == {"names_true": None, "names_absent": True}
    shares = mention_shares([distortion_mentions(d, r) for d, r in [("It is blurry.", blurred), ("Clear.", blurred),
                                                                    ("It is grainy.", pristine)]])
    assert shares == {"names_true_distortion": 0.5, "names_absent_distortion": pytest.approx(1 / 3)}


def judge_server(answers):
    calls = iter(answers)
    return lambda body: completion(next(calls))


def test_openai_judge_with_a_malformed_first_answer(tmp_path):
    answers = ['{"completeness": 3, "precision": "x"}', '{"completeness": 2, "precision": 1, "relevance": 2}']
    with openai_server(judge_server(answers)) as (url, requests):
        backend = create_backend("openai", model="judge", base_url=url, api_key="k",
                                 cache=ResponseCache(tmp_path / "cache"))
        scores = asyncio.run(backend.judge("Blurry; poor quality.", "Motion blur; the quality is poor."))
        assert scores == {"completeness": 2, "precision": 1, "relevance": 2} and len(requests) == 2
        assert requests[0]["body"]["response_format"]["json_schema"]["name"] == "qinstruct_a2-judge"
        assert "Invalid" in requests[1]["body"]["messages"][-1]["content"]  # the corrective request
        again = create_backend("openai", model="judge", base_url=url, api_key="k",
                               cache=ResponseCache(tmp_path / "cache"))
        assert asyncio.run(again.judge("Blurry; poor quality.", "Motion blur; the quality is poor.")) == scores
        assert len(requests) == 2  # from the cache
    with openai_server(judge_server(["nonsense", "still nonsense"])) as (url, _):
        backend = create_backend("openai", model="judge", base_url=url, api_key="k")
        with pytest.raises(ConversionError, match="no valid scores"):
            asyncio.run(backend.judge("a", "b"))


def test_bradley_terry_recovers_known_strengths(capsys, tmp_path):
    rng = np.random.default_rng(3)
    truth = {"tuned": 1150.0, "baseline": 1000.0, "random": 850.0}
    votes, log = [], []
    names = list(truth)
    for _ in range(4000):
        a, b = rng.choice(names, 2, replace=False)
        p = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400))
        outcome = 1.0 if rng.random() < p else 0.0
        votes.append(Vote(a, b, outcome))
        log.append({"type": "vote", "blind": True, "a": a, "b": b, "vote": "A is better" if outcome else
                    "B is better"})
    log.append({"type": "vote", "blind": False, "a": "tuned", "b": "random", "vote": "Tie"})  # not blind: left out
    board = leaderboard(votes, bootstrap=30).as_dict()
    fitted = {row["model"]: row for row in board["ratings"]}
    for name, rating in truth.items():
        assert abs(fitted[name]["rating"] - rating) < 25
        low, high = fitted[name]["ci95"]
        assert low < fitted[name]["rating"] < high
    assert 0.8 < board["win_rate"]["tuned"]["random"] < 0.9  # 300 points: 1 / (1 + 10 ** -0.75) = 0.85
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    assert main(["eval", "arena", "--votes", str(tmp_path / "log.jsonl"), "--bootstrap", "0", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sum(printed["votes_per_pair"].values()) == 4000  # the open vote is not counted


def test_the_arena_counts_one_blind_vote_per_round_and_keeps_both_bad_apart(capsys, tmp_path):
    def record(vote, a="tuned", b="baseline", **extra):
        return {"type": "vote", "blind": True, "a": a, "b": b, "vote": vote, **extra}

    old = [record("A is better", session="s1"), record("B is better", session="s1"),  # before rounds: revealed
           record("A is better", session="s2")]
    new = [record("A is better", session="s3", round="r1"), record("Tie", session="s3", round="r1"),
           record("Both are bad", session="s3", round="r2"), record("Tie", session="s3", round="r3"),
           record("B is better", session="s3", round="r4", excluded="a second vote on one answer"),
           record("A is better", session="s4", round="r1", blind=False)]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old + new))
    log = read_votes(str(tmp_path / "log.jsonl"))
    assert [v.outcome for v in log.votes] == [1.0, 1.0, 1.0, None, 0.5]
    assert log.excluded == {REPEATED: 2, "a second vote on one answer": 1, OPEN: 1}
    board = leaderboard(log, bootstrap=0).as_dict()
    tuned = next(r for r in board["ratings"] if r["model"] == "tuned")
    assert (tuned["wins"], tuned["ties"], tuned["losses"], tuned["both_bad"]) == (3, 1, 0, 1)
    assert board["win_rate"]["tuned"]["baseline"] == pytest.approx(3.5 / 4)  # both-bad is no half win
    assert board["votes_per_pair"] == {"baseline vs tuned": 5} and board["excluded"][OPEN] == 1
    assert main(["eval", "arena", "--votes", str(tmp_path / "log.jsonl"), "--bootstrap", "0"]) == 0
    printed = capsys.readouterr().out
    assert "3-1-0  1  tuned" in printed and f"not counted: 2 vote(s) {REPEATED}" in printed


def test_the_arena_ranking_beside_a3(capsys, tmp_path):
    log = [{"type": "vote", "blind": True, "a": a, "b": b, "vote": "A is better", "session": f"s{i}", "round": "r"}
           for i, (a, b) in enumerate([("models/mix", "models/base")] * 3 + [("models/base", "models/rand")] * 3
                                      + [("models/mix", "models/rand")] * 3)]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    run = tmp_path / "a3"
    run.mkdir()
    models = {"workspace/models/mix": {"demo": {"srcc": 0.5}}, "workspace/models/base": {"demo": {"srcc": 0.1}},
              "workspace/models/rand": {"demo": {"srcc": 0.3}, "other": {"srcc": -0.5}}}
    (run / "summary.json").write_text(json.dumps({"protocol": "a3", "models": models}))
    assert main(["eval", "arena", "--votes", str(tmp_path / "log.jsonl"), "--bootstrap", "0", "--a3", str(run),
                 "--json"]) == 0
    agreed = json.loads(capsys.readouterr().out)["a3_agreement"]
    assert agreed["a3_srcc"] == [0.1, 0.5, -0.1]  # the same folder names; a model's MOS sets averaged
    assert agreed["kendall_tau"] == pytest.approx(1.0)  # people and the metric rank mix > base > rand alike
    assert main(["eval", "arena", "--votes", str(tmp_path / "log.jsonl"), "--a3", str(tmp_path / "none")]) != 0
    assert "none: no summary.json" in capsys.readouterr().err


def test_a3_on_a_csv_of_three_images_is_a_result_not_a_traceback(shared_data, tmp_path, capsys):
    """Three rows: the 4-parameter logistic cannot be fitted (scipy raised a TypeError), so its PLCC is left out
    and the SRCC / PLCC stand; the MOS list is a spreadsheet."""
    from qinstruct.eval.a3 import logistic_plcc

    assert logistic_plcc(np.array([0.2, 0.5, 0.9]), np.array([1.0, 3.0, 4.0])) is None
    names = sorted(p.name for p in (shared_data / "images").iterdir())[:3]
    mos = tmp_path / "three.csv"
    mos.write_text("image,MOS\n" + "".join(f"{name},{score}\n" for name, score in zip(names, (3.1, 4.2, 1.5))))
    out = tmp_path / "a3"
    assert main(["eval", "a3", "--model", "tiny:llava", "--mos", f"{mos}=three", "--image-root",
                 str(shared_data / "images"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"]["tiny:llava"]["three"]["n"] == 3
