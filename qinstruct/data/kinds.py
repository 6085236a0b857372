"""The kind of an instruction item: what the Q-Instruct paper's subsets are, recognised from the item itself.

The real Q-Instruct release carries no per-item type, so a kind is read from the turns when the item does not
declare one (our converter writes `type` and `form`): pathway (a long answer judging quality: a Q-Pathway
feedback), yes-no, mcq (options A-D in the question), what-how (a short direct answer), extended (several
exchanges), content (the demo's high-level items), other.
"""
from __future__ import annotations

import re

from .records import IMAGE_TOKENS, InstructionItem

ITEM_KINDS = ("pathway", "yes-no", "what-how", "mcq", "extended", "content", "other")
_OPTION = re.compile(r"(?:^|\n)\s*[A-D][.)]\s")
_IMAGE = re.compile("|".join(re.escape(t) for t in IMAGE_TOKENS))
PATHWAY_WORDS = 25  # answers at least this long that judge quality are Q-Pathway feedbacks


def item_kind(item: InstructionItem) -> str:
    """pathway | yes-no | mcq | what-how | extended | content | other."""
    declared, form = item.meta.get("type"), item.meta.get("form")
    if declared in ("pathway", "yes-no", "extended", "content"):
        return declared
    if declared in ("what", "how", "context"):
        return "mcq" if form == "mcq" else "yes-no" if form == "yes-no" else "what-how"
    humans = [t.value for t in item.conversations if t.role == "human"]
    answers = [t.value for t in item.conversations if t.role == "gpt"]
    if len(humans) > 1:
        return "extended"
    question = _IMAGE.sub("", humans[0]).strip() if humans else ""
    answer = answers[0].strip() if answers else ""
    words = answer.split()
    if len(_OPTION.findall(question)) >= 2:
        return "mcq"
    if words and words[0].lower().strip(".,!") in ("yes", "no") and len(words) <= 12:
        return "yes-no"
    if len(words) >= PATHWAY_WORDS and "quality" in answer.lower():
        return "pathway"
    if 0 < len(words) <= 8:
        return "what-how"
    return "other"
