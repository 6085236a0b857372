"""The paper's ordering of the strategies and the demo's targets, checked from the evaluation figures."""
from qinstruct.demo.strategies import ordering, strategies_table, targets


def figures(low: float, content: float, srcc: float = 0.5) -> dict:
    return {"a1": {"likelihood_option_only": {"overall": low}}, "content": {"likelihood_option_only": {
        "overall": content}}, "a3": {"demo": {"srcc": srcc}}, "a2": {"sum": 3.0, "names_absent_distortion": 0.1}}


def test_the_papers_ordering_holds_when_mix_and_after_lead_and_replace_forgets_content():
    paper = {"baseline": figures(0.40, 0.90), "mix": figures(0.67, 0.90), "after": figures(0.66, 0.88),
             "replace": figures(0.55, 0.40)}
    line = ordering(paper)
    assert "**holds**" in line and "mix 0.670, after 0.660, replace 0.550, baseline 0.400" in line
    assert "content: mix 0.900, replace 0.400" in line


def test_each_part_of_the_ordering_says_whether_it_holds():
    apart = {"baseline": figures(0.40, 0.90), "mix": figures(0.67, 0.90), "after": figures(0.50, 0.90),
             "replace": figures(0.35, 0.95)}
    line = ordering(apart)
    assert ("does not hold (mix ≈ after fails; mix > replace holds; after > replace holds; replace ≥ baseline fails; "
            "replace < mix on content fails)") in line  # "(a; b; c fails)" read as if a and b held
    assert "not checked, it needs all four" in ordering({"baseline": figures(0.4, 0.9), "mix": figures(0.6, 0.9)})
    missing = dict(apart, replace={"a1": {}})
    assert "not checked, a figure is missing" in ordering(missing) and "replace -" in ordering(missing)


def test_targets_say_each_shortfall_with_its_size():
    line = targets({"baseline": figures(0.40, 0.9), "mix": figures(0.65, 0.9, srcc=0.7),
                    "replace": figures(0.55, 0.4, srcc=0.61)})
    assert "mix: met" in line and "replace: short: A1 0.550 < 0.60, A1 gain +0.150 < +0.20" in line
    assert "A3" not in line.split("replace:")[1]


def test_fewer_mentions_of_absent_distortions_is_the_best():
    table = strategies_table({"baseline": figures(0.4, 0.9), "mix": figures(0.6, 0.9)})
    table.rows["mix"][list(table.columns).index("A2 names an absent distortion")] = 0.05
    assert "**0.050 (-0.050)**" in table.markdown("baseline")
