"""The bad-input corpus (tests/badinputs/) against the CLI and a running studio: every case clean."""


def test_every_bad_input_gets_a_clear_message(capsys):
    from scripts import badinputs as script  # what `python -m scripts.badinputs` runs

    outcomes = script.run()
    dirty = [f"[{o.where}] {o.name}: {o.detail}" for o in outcomes if not o.clean]
    assert not dirty, "\n".join(dirty)
    from tests.badinputs.cases import CLI_CASES
    from tests.badinputs.studio_cases import API_CASES

    assert len(outcomes) == len(CLI_CASES) + len(API_CASES) >= 300
    assert script.summary(outcomes) == \
        f"{len(outcomes)} tried, {len(outcomes)} clean, 0 tracebacks, 0 wrong, 0 crashes"
