"""A conversation's turns and its per-turn timing, on tiny models through the shared pool; blind rounds and votes."""
import json

import pytest

from qinstruct.eval.arena import read_votes
from qinstruct.models.chat import GenerationOptions
from qinstruct.models.pool import ModelPool
from qinstruct.models.session import SECOND_VOTE, ChatSession, Timing, send, vote


def test_a_turn_records_each_sides_tokens_and_times(photos):
    pool = ModelPool()
    session = ChatSession.start("tiny:llava", "tiny:idefics3")
    for _ in send(pool, session, photos[0], "Is this image clear?", GenerationOptions(max_new_tokens=12)):
        pass
    timing = session.last_timing
    pair = pool.pair("tiny:llava", "tiny:idefics3")
    for side, turns, tokens, seconds in zip(pair.sides, session.turns, timing.tokens, timing.seconds):
        answer = turns[-1].assistant
        assert answer and tokens == len(side.tokenizer.encode(answer, add_special_tokens=False))
        assert 0 < timing.first_text_s <= seconds
    line = timing.line(("baseline", "tuned"), blind=False)
    assert line.startswith("baseline: ") and "tok/s" in line and "first text after" in line


def test_blind_timing_does_not_tell_the_sides_apart():
    timing = Timing(0.1, (0.5, 2.0), (10, 40))
    assert timing.line(("A", "B"), blind=True) == "answered in 2.00 s · first text after 0.10 s"
    assert "remote: 2.00 s" in Timing(0.1, (0.5, 2.0), (10, None)).line(("local", "remote"), blind=False)


def test_every_blind_round_draws_its_order_and_takes_one_vote(photos, tmp_path):
    """FastChat's arena complaints as a checklist: after a reveal the next answer is under a new random order in a
    new conversation (its history would tell the sides apart), and a second vote on one answer is not counted."""
    pool, log = ModelPool(), tmp_path / "log.jsonl"
    session = ChatSession.start("tiny:llava", "tiny:idefics3", blind=True)
    orders, rounds = set(), set()
    for question in range(12):
        for _ in send(pool, session, photos[0], f"Question {question}?", GenerationOptions(max_new_tokens=2)):
            pass
        assert len(session.turns[0]) == 1  # each round is a fresh conversation: no revealed history carried on
        orders.add(session.swapped)
        rounds.add(session.round_id)
        assert "Already voted" not in vote(log, session, "A is better")
        assert "Already voted" in vote(log, session, "Tie")  # twice on one answer: logged, not counted
    assert orders == {True, False} and len(rounds) == 12  # 12 rounds, both orders drawn (1 in 2,048 to fail)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r.get("excluded") for r in records] == [None, SECOND_VOTE] * 12
    counted = read_votes(str(log))
    assert len(counted.votes) == 12 and counted.excluded == {SECOND_VOTE: 12}


def test_an_open_conversation_goes_on_after_a_vote(photos, tmp_path):
    pool, log = ModelPool(), tmp_path / "log.jsonl"
    session = ChatSession.start("tiny:llava", "tiny:idefics3", blind=False)
    for question in ("Is it clear?", "Why?"):
        for _ in send(pool, session, photos[0], question, GenerationOptions(max_new_tokens=2)):
            pass
        vote(log, session, "B is better")
    assert [t.user for t in session.turns[0]] == ["Is it clear?", "Why?"]  # nothing to hide: the history stays
    assert len({json.loads(line)["round"] for line in log.read_text().splitlines()}) == 2
    with pytest.raises(ValueError, match="ask something"):
        vote(log, ChatSession.start("a", "b", blind=True), "Tie")
