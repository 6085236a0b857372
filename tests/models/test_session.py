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


def test_a_side_that_fails_is_timed_as_failed_not_as_tokens_per_second(photos):
    from ..helpers.openai_server import openai_server

    with openai_server(lambda body: (500, {"error": {"message": "down"}})) as (url, _):
        pool, session = ModelPool(), ChatSession.start("tiny:llava", f"openai:m@{url}")
        for _ in send(pool, session, photos[0], "Is it sharp?", GenerationOptions(max_new_tokens=4)):
            pass
    assert session.turns[1][-1].assistant.startswith("⚠ ")  # the error stands where the answer would
    timing = session.last_timing
    assert timing.failed == (False, True) and timing.tokens[1] is None
    line = timing.line(("baseline", "tuned"), blind=False)
    assert "tuned: failed after" in line and line.count("tok/s") == 1  # the baseline's speed only


def test_remote_code_is_trusted_for_the_side_asked_only():
    from qinstruct.access import AccessPolicy
    from qinstruct.models.types import LoadOptions

    policy = AccessPolicy(trusted_specs=frozenset({"tiny:llava"}))  # the operator trusts one spec
    pool = ModelPool(policy=policy)
    both = pool.pair("tiny:llava", "tiny:llava@1", LoadOptions(trust_remote_code=True))
    assert both.right.kind == "failed" and "trust_remote_code is not allowed" in both.right.label
    left_only = pool.pair("tiny:llava", "tiny:llava@1", (LoadOptions(trust_remote_code=True), LoadOptions()))
    assert [side.kind for side in left_only.sides] == ["local", "local"]


def test_a_micro_model_asked_without_an_image_refuses_before_the_conversation_changes(photos, tmp_path):
    """The micro demo models only ever answered about an image (without one the baseline babbled "text text…" for
    15 s at a talk): a question with no image is refused in words naming no side, and the conversation, its image
    and a regenerate's last turn stay as they were; a text model beside it would answer text alone."""
    from qinstruct.models.session import NEEDS_IMAGE, regenerate

    from .test_micro import saved_micro

    micro = str(saved_micro(tmp_path / "micro"))
    pool = ModelPool()
    session = ChatSession.start("tiny:llava", micro)
    for _ in send(pool, session, photos[0], "Is this image clear?", GenerationOptions(max_new_tokens=2)):
        pass
    before = ([(t.user, t.assistant) for t in turns] for turns in session.turns)
    before, digest = list(before), session.image_sha256
    for ask in (lambda: send(pool, session, None, "And now?", GenerationOptions(max_new_tokens=2)),
                lambda: regenerate(pool, session, None, options=GenerationOptions(max_new_tokens=2))):
        with pytest.raises(ValueError, match="no image") as refused:
            list(ask())
        assert str(refused.value) == NEEDS_IMAGE and "micro (untrained)" not in NEEDS_IMAGE
        assert [[(t.user, t.assistant) for t in turns] for turns in session.turns] == before
        assert session.image_sha256 == digest
    text_only = ChatSession.start("tiny:llava", "tiny:idefics3")
    for _ in send(pool, text_only, None, "Hi", GenerationOptions(max_new_tokens=2)):
        pass
    assert all(turns[-1].assistant for turns in text_only.turns)
