"""Versioned prompt templates and JSON schemas for the GPT backend.  A new wording gets a new PROMPT_VERSION:
cached responses are keyed by it, so changing a prompt never serves stale answers."""
from __future__ import annotations

import json

PROMPT_VERSION = "gpt-1"
GROUPS = {"vqa": ("yes-no", "what", "how", "context"), "extended": ("extended",)}

SYSTEM = (
    "You turn a human's feedback about the low-level visual quality of an image (clarity, blur, noise, exposure, "
    "colour, compression, ...) into instruction-tuning data, as in the Q-Instruct dataset. You cannot see the "
    "image: use only facts the feedback states. Never invent objects, distortions or positions it does not mention."
)

VQA_INSTRUCTIONS = """Write questions a person could ask about this image, answered from the feedback alone.
- yes_no: questions answered yes or no. Balance them: about as many "no" as "yes". A "no" must follow from the
  feedback (a stated absence such as "no noise", or a contradiction such as "sharp" against "is it blurry?").
- what: questions whose answer is a noun such as a distortion ("motion blur", "noise", "over-exposure").
- how: questions whose answer is an adjective or level ("good", "fair", "poor", "high", "low", "slight", "severe").
- context: questions that ground an attribute to an object or position named in the feedback ("Is the duck on the
  left under-exposed?"); kind "yes-no" (answer yes or no) or "choice" (answer a word, with distractors).
For what, how and choice questions give exactly three distractors: plausible, clearly wrong for this image, and
different from each other and from the answer. Never put the answer in the question."""

EXTENDED_INSTRUCTIONS = """Write extended conversations (2 to 4 turns each) that go beyond description, grounded in
the feedback: why the distortion happened, how to improve the picture, which tools to use, and whom the picture is
suitable for (or another topic a person would raise). One conversation per topic that the feedback supports."""


def _qa(extra: dict | None = None) -> dict:
    properties = {"question": {"type": "string"}, "answer": {"type": "string"},
                  "distractors": {"type": "array", "items": {"type": "string"}}}
    properties.update(extra or {})
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


SCHEMAS = {
    "vqa": {
        "type": "object",
        "properties": {
            "yes_no": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["question", "answer"],
                "properties": {"question": {"type": "string"}, "answer": {"type": "string", "enum": ["yes", "no"]}}}},
            "what": {"type": "array", "items": _qa()},
            "how": {"type": "array", "items": _qa()},
            "context": {"type": "array", "items": _qa({"kind": {"type": "string", "enum": ["yes-no", "choice"]}})},
        },
        "required": ["yes_no", "what", "how", "context"], "additionalProperties": False,
    },
    "extended": {
        "type": "object",
        "properties": {"conversations": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["topic", "turns"],
            "properties": {"topic": {"type": "string"}, "turns": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["question", "answer"],
                "properties": {"question": {"type": "string"}, "answer": {"type": "string"}}}}}}}},
        "required": ["conversations"], "additionalProperties": False,
    },
}


JUDGE_VERSION = "a2-1"
_SCORE = {"type": "integer", "enum": [0, 1, 2]}
SCHEMAS["a2-judge"] = {
    "type": "object", "additionalProperties": False, "required": ["completeness", "precision", "relevance"],
    "properties": {"completeness": _SCORE, "precision": _SCORE, "relevance": _SCORE},
}
JUDGE_SYSTEM = ("You evaluate descriptions of an image's low-level visual quality (Q-Bench A2). Compare the "
                "description with the reference and score three dimensions, each 0, 1 or 2.")
JUDGE_RULES = """- completeness: 2 if it covers every low-level attribute of the reference (distortions, sharpness, noise,
  lighting, colour, the overall quality); 1 if some; 0 if none.
- precision: 2 if nothing it says contradicts the reference; 1 if minor contradictions; 0 if it gets the main
  distortion or the overall quality wrong.
- relevance: 2 if it is about low-level quality and aesthetics; 1 if partly; 0 if it only describes the content."""


def judge_messages(description: str, reference: str) -> list[dict]:
    user = (f"Reference:\n\"\"\"\n{reference.strip()}\n\"\"\"\n\nDescription to score:\n\"\"\"\n"
            f"{description.strip()}\n\"\"\"\n\n{JUDGE_RULES}\n\nAnswer with JSON only.")
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def messages(group: str, feedback: str) -> list[dict]:
    instructions = VQA_INSTRUCTIONS if group == "vqa" else EXTENDED_INSTRUCTIONS
    user = f"Feedback:\n\"\"\"\n{feedback.strip()}\n\"\"\"\n\n{instructions}\n\nAnswer with JSON only."
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def response_format(group: str) -> dict:
    return {"type": "json_schema", "json_schema": {"name": f"qinstruct_{group}", "strict": True,
                                                   "schema": SCHEMAS[group]}}


def prompt_text(group: str, feedback: str) -> str:
    """The exact request, as the Convert tab shows it."""
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages(group, feedback)) + \
        f"\n\n[response_format]\n{json.dumps(response_format(group), indent=1)}"
