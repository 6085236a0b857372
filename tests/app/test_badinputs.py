"""The bad-input corpus (tests/badinputs/) against the CLI and a running studio: every case clean."""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_bad_input_gets_a_clear_message(capsys):
    spec = importlib.util.spec_from_file_location("badinputs", ROOT / "scripts" / "badinputs.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules["badinputs"] = script  # its dataclasses look their module up there
    spec.loader.exec_module(script)
    outcomes = script.run()
    dirty = [f"[{o.where}] {o.name}: {o.detail}" for o in outcomes if not o.clean]
    assert not dirty, "\n".join(dirty)
    from tests.badinputs.cases import CLI_CASES
    from tests.badinputs.studio_cases import API_CASES

    assert len(outcomes) == len(CLI_CASES) + len(API_CASES) >= 300
    assert script.summary(outcomes) == \
        f"{len(outcomes)} tried, {len(outcomes)} clean, 0 tracebacks, 0 wrong, 0 crashes"
