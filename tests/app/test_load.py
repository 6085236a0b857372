"""Eight sessions chatting and rating at once on the demo models: all answered, no cross-talk, and another tab
keeps answering while the model queue is busy (figures with the 2-minute run: RELIABILITY.md)."""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_eight_sessions_for_half_a_minute(studio):
    spec = importlib.util.spec_from_file_location("load_chat", ROOT / "scripts" / "load_chat.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules["load_chat"] = script
    spec.loader.exec_module(script)
    result = script.run(studio["url"], sessions=8, seconds=30)
    assert result["failures"] == [] and result["cross_talk"] == 0
    requests = result["requests"]
    assert requests["chat turn"]["count"] >= 8 and requests["rating"]["count"] >= 1
    assert requests["other tab (demo photo)"]["count"] >= 10  # the Corrupt tab kept answering meanwhile
