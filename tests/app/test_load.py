"""Eight sessions chatting and rating at once on the demo models: all answered, no cross-talk, and another tab
keeps answering while the model queue is busy (figures with the 2-minute run: RELIABILITY.md)."""


def test_eight_sessions_for_half_a_minute(studio):
    from scripts import load_chat as script  # what `python -m scripts.load_chat` runs

    result = script.run(studio["url"], sessions=8, seconds=30)
    assert result["failures"] == [] and result["cross_talk"] == 0
    requests = result["requests"]
    assert requests["chat turn"]["count"] >= 8 and requests["rating"]["count"] >= 1
    assert requests["other tab (demo photo)"]["count"] >= 10  # the Corrupt tab kept answering meanwhile
