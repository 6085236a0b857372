"""The objectives of the field's quality-scorer recipes, as their papers define them (issue 35's building blocks).

- `soft`, DeQA-Score: the KL divergence from an image's soft label over the five levels (data/soft_labels.py,
  written by `qinstruct data levels --soft`) to the model's next-token distribution at the level word
  (`soft_kl_loss`), plus the Thurstone fidelity of image pairs (`pair_fidelity_loss`).
- `grpo`, VisualQuality-R1: K sampled scores per image; each completion is rewarded by how well its score, against
  the mean score of every other image in the batch, predicts the MOS order (Thurstone probability from the
  samples' variances, compared with the MOS order by the fidelity measure: `fidelity_rewards`); and Q-Insight: a
  completion whose JSON `rating` is within a threshold of the MOS earns 1 (`threshold_rewards`); both with a
  format reward for `<think>…</think><answer>…</answer>` (`format_rewards`).

One departure, on purpose: a completion whose score cannot be parsed earns nothing and is left out of the batch's
means and variances (VisualQuality-R1 draws a random number for it, which rewards a malformed answer by chance).
Level order: excellent, good, fair, poor, bad (the originals' order).
"""
from __future__ import annotations

import re

import torch

EPS = 1e-8


def soft_kl_loss(vocab_logits: torch.Tensor, level_ids, target: torch.Tensor) -> torch.Tensor:
    """KL(target || model) at the level word, batch-mean: the softmax is over the whole vocabulary (mass on other
    tokens is a loss too) and the target sits on the five level ids (a list, or (B, 5): each example's own).
    vocab_logits (B, V), target (B, 5)."""
    log_all = torch.log_softmax(vocab_logits.float(), dim=-1)
    ids = torch.as_tensor(level_ids, device=log_all.device)
    log_probs = log_all[:, ids] if ids.dim() == 1 else log_all.gather(1, ids)  # (B, 5)
    target = target.to(log_probs)
    kept = target > 0  # 0 * log 0 is 0
    terms = torch.where(kept, target * (torch.log(target.clamp_min(1e-30)) - log_probs), torch.zeros_like(target))
    return terms.sum() / vocab_logits.shape[0]


def _thurstone(difference: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """P(A better than B) for Gaussian scores whose difference has this mean and variance."""
    return 0.5 * (1 + torch.erf(difference / torch.sqrt(2 * variance)))


def pair_fidelity_loss(pred_a: torch.Tensor, pred_std_a: torch.Tensor, pred_b: torch.Tensor,
                       pred_std_b: torch.Tensor, mos_a: torch.Tensor, std_a: torch.Tensor, mos_b: torch.Tensor,
                       std_b: torch.Tensor) -> torch.Tensor:
    """DeQA-Score's pair loss: the predicted and the human probability that A is better than B (Thurstone, each
    from its means and standard deviations), compared by fidelity: 1 - sqrt(p g) - sqrt((1-p)(1-g)), mean."""
    predicted = _thurstone(pred_a - pred_b, pred_std_a ** 2 + pred_std_b ** 2 + EPS)
    human = _thurstone(mos_a - mos_b, std_a ** 2 + std_b ** 2 + EPS).detach()
    return (1 - (predicted * human + EPS).sqrt() - ((1 - predicted) * (1 - human) + EPS).sqrt()).mean()


ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
RATING = re.compile(r"\"rating\"\s*:\s*([\d.]+)")


def answer_number(completion: str) -> float | None:
    """VisualQuality-R1's reading of a completion: the last <answer> tag's text (or the whole text without one),
    its first number; None where there is none (never a made-up number)."""
    tags = ANSWER.findall(completion)
    found = NUMBER.search(tags[-1].strip() if tags else completion.strip())
    return float(found.group()) if found else None


def json_rating(completion: str) -> float | None:
    """Q-Insight's reading: the first <answer> tag's JSON "rating" value; None where there is none."""
    tag = ANSWER.search(completion)
    found = RATING.search(tag.group(1).strip()) if tag else None
    try:
        return float(found.group(1)) if found else None
    except ValueError:  # "rating": 3.5.1
        return None


def fidelity_rewards(scores: list[list[float | None]], mos: list[float]) -> list[list[float]]:
    """VisualQuality-R1's reward, per image (its K sampled scores) and completion: for every other image of the
    batch, the Thurstone probability that this completion's score beats that image's mean score (variance: the
    two images' sample variances), compared with the MOS order (1, 0, or 0.5 for a tie) by fidelity
    sqrt(p g) + sqrt((1-p)(1-g)); the mean over the other images.  An unparsed score (None) earns 0."""
    if len(scores) != len(mos) or len(scores) < 2:
        raise ValueError("fidelity rewards need two or more images, each with its MOS")
    stats = []
    for samples in scores:
        parsed = torch.tensor([s for s in samples if s is not None], dtype=torch.float64)
        if len(parsed) == 0:
            stats.append(None)
            continue
        variance = parsed.var() if len(parsed) > 1 else torch.tensor(0.0, dtype=torch.float64)  # unbiased, as torch
        stats.append((parsed.mean(), variance))
    rewards = []
    for i, samples in enumerate(scores):
        row = []
        for score in samples:
            others = [z for z in range(len(scores)) if z != i and stats[z] is not None]
            if score is None or stats[i] is None or not others:
                row.append(0.0)
                continue
            total = 0.0
            for z in others:
                human = 1.0 if mos[i] > mos[z] else 0.0 if mos[i] < mos[z] else 0.5
                p = _thurstone(torch.tensor(score, dtype=torch.float64) - stats[z][0],
                               stats[i][1] + stats[z][1] + 1e-6)  # Phi(d / sqrt(v1 + v2))
                total += float(torch.sqrt(p * human + 1e-6) + torch.sqrt((1 - p) * (1 - human) + 1e-6))
            row.append(total / len(others))
        rewards.append(row)
    return rewards


def threshold_rewards(completions: list[str], mos: list[float], threshold: float = 0.35) -> list[float]:
    """Q-Insight's score reward: 1 where the completion's JSON rating is within `threshold` of its MOS (1-5)."""
    if len(completions) != len(mos):
        raise ValueError("one MOS per completion")
    out = []
    for completion, target in zip(completions, mos):
        rating = json_rating(completion)
        out.append(1.0 if rating is not None and abs(rating - target) < threshold else 0.0)
    return out


THINK_THEN_ANSWER = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)


def format_rewards(completions: list[str], thinking: bool = True) -> list[float]:
    """1 for `<think>…</think><answer>…</answer>` (thinking on), or for a lone `<answer>…</answer>` (off)."""
    pattern = THINK_THEN_ANSWER if thinking else re.compile(r"\s*<answer>.*?</answer>\s*", re.DOTALL)
    return [1.0 if pattern.fullmatch(completion) else 0.0 for completion in completions]
