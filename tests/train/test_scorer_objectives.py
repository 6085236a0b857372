"""The scorer recipes' objectives against the originals' formulas on fixed numbers: DeQA-Score's KL and pair
fidelity losses, VisualQuality-R1's fidelity reward, Q-Insight's threshold reward, the format reward, and the
parsing of awkward completions."""
import math

import pytest
import torch
import torch.nn.functional as F

from qinstruct.data.soft_labels import soft_level_target
from qinstruct.train.scorer_objectives import (
    answer_number,
    fidelity_rewards,
    format_rewards,
    json_rating,
    pair_fidelity_loss,
    soft_kl_loss,
    threshold_rewards,
)


def test_the_kl_loss_is_kl_div_over_the_whole_vocabulary():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 40, generator=generator)
    level_ids = [7, 3, 21, 9, 30]
    target = torch.tensor([soft_level_target(m, 0.5, 1.0, 5.0).probs for m in (1.5, 3.3, 4.9)])
    full = torch.zeros(3, 40)
    full[:, level_ids] = target
    expected = F.kl_div(torch.log(torch.softmax(logits, dim=1)), full, reduction="batchmean")  # the original's
    assert float(soft_kl_loss(logits, level_ids, target)) == pytest.approx(float(expected), abs=1e-5)


def test_the_pair_fidelity_loss_on_fixed_numbers():
    def phi(d, variance):
        return 0.5 * (1 + math.erf(d / math.sqrt(2 * variance)))

    pred_a, pred_b, sa, sb = [3.9, 2.0], [3.1, 2.4], [0.3, 0.5], [0.4, 0.2]
    mos_a, mos_b, ga, gb = [4.2, 1.8], [3.0, 2.6], [0.5, 0.6], [0.7, 0.4]
    eps = 1e-8
    losses = []
    for k in range(2):
        p = phi(pred_a[k] - pred_b[k], sa[k] ** 2 + sb[k] ** 2 + eps)
        g = phi(mos_a[k] - mos_b[k], ga[k] ** 2 + gb[k] ** 2 + eps)
        losses.append(1 - math.sqrt(p * g + eps) - math.sqrt((1 - p) * (1 - g) + eps))
    got = pair_fidelity_loss(*(torch.tensor(v) for v in (pred_a, sa, pred_b, sb, mos_a, ga, mos_b, gb)))
    assert float(got) == pytest.approx(sum(losses) / 2, abs=1e-6)


def test_the_fidelity_reward_is_visualquality_r1s_on_fixed_numbers():
    """Two images, two samples each; then a third image whose samples cannot be parsed."""
    from scipy.stats import norm

    scores, mos = [[4.0, 5.0], [2.0, 3.0]], [4.5, 2.0]
    rewards = fidelity_rewards(scores, mos)
    # image 0, sample 4.0 against image 1's mean 2.5, variance 0.5 + 0.5 (unbiased), the MOS says 0 is better
    p = norm.cdf((4.0 - 2.5) / math.sqrt(1.0 + 1e-6))
    assert rewards[0][0] == pytest.approx(math.sqrt(p + 1e-6) + math.sqrt(1e-6), abs=1e-6)
    p = norm.cdf((3.0 - 4.5) / math.sqrt(1.0 + 1e-6))  # image 1's 3.0 against image 0's mean: it is worse
    assert rewards[1][1] == pytest.approx(math.sqrt(1e-6) + math.sqrt(1 - p + 1e-6), abs=1e-6)
    assert rewards[0][1] > rewards[0][0]  # 5.0 orders the pair more surely than 4.0
    with_unparsed = fidelity_rewards([[4.0, None], [2.0, 3.0], [None, None]], [4.5, 2.0, 3.0])
    assert with_unparsed[0][1] == 0.0 and with_unparsed[2] == [0.0, 0.0]  # nothing parsed earns nothing
    assert with_unparsed[1][0] > 0  # ...and is left out of the others' comparisons
    with pytest.raises(ValueError, match="two or more images"):
        fidelity_rewards([[3.0, 4.0]], [3.5])


# awkward completions: (text, VisualQuality-R1's number, Q-Insight's JSON rating)
AWKWARD = [("", None, None), ("no number at all", None, None), ("4.5/5", 4.5, None), ("rating: 3", 3.0, None),
           ("<answer>2.75</answer>", 2.75, None), ("<answer>1</answer> then <answer>4.0</answer>", 4.0, None),
           ('<think>hmm</think><answer>{"rating": 3.62, "reason": "soft"}</answer>', 3.62, 3.62),
           ('<answer>{"note": "x", "rating": 4}</answer>', 4.0, 4.0), ('{"rating": 2.5}', 2.5, None),
           ("<answer>The score is -1.5 out of 5</answer>", -1.5, None), ('<answer>{"rating": 3.5.1}</answer>',
                                                                           3.5, None)]


@pytest.mark.parametrize("text, number, rating", AWKWARD)
def test_awkward_completions_parse_as_the_originals_would_or_not_at_all(text, number, rating):
    assert answer_number(text) == number and json_rating(text) == rating


def test_threshold_and_format_rewards():
    completions = ['<think>a</think>\n<answer>{"rating": 3.30}</answer>', '<answer>{"rating": 3.90}</answer>',
                   "<answer>3.3</answer>", '<think>b</think><answer>{"rating": 4.9}</answer>']
    assert threshold_rewards(completions, [3.5, 3.5, 3.5, 4.6]) == [1.0, 0.0, 0.0, 1.0]  # |Δ| < 0.35
    assert format_rewards(completions) == [1.0, 0.0, 0.0, 1.0]
    assert format_rewards(completions, thinking=False) == [0.0, 1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="one MOS per completion"):
        threshold_rewards(completions, [3.5])
