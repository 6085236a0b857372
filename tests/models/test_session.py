"""A conversation's turns and its per-turn timing, on tiny models through the shared pool."""
from qinstruct.models.chat import GenerationOptions
from qinstruct.models.pool import ModelPool
from qinstruct.models.session import ChatSession, Timing, send


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
