"""The field's checkpoints as data: what each is, how the studio loads it, its licence as its card states it, and
the published figures it should reproduce.  Feeds `qinstruct models --known`, the Chat tab's model hints and the
README (a test keeps the README's table in step).  Nothing here downloads: a checkpoint not on disk comes with
the command that fetches it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

NOT_CHECKED = "not checked here: read its card"


@dataclass(frozen=True)
class KnownCheckpoint:
    name: str
    hub_id: str
    family: str  # the studio's model family (models/families.py)
    layout: str  # how the weights are laid out
    loads: str  # how the studio loads it
    licence: str  # as its model card states it
    reproduces: str  # published figures a correct load should reproduce ("" if none recorded)
    role: str  # baseline or tuned, in the paper's comparisons

    def fetch_command(self) -> str:
        return f"hf download {self.hub_id}"


LLAVA_A3 = ("Q-Bench A3 (published outputs, `eval iqa`): SRCC/PLCC LIVE-itw 0.445/0.481, AGIQA-3K 0.664/0.754, "
            "CGIQA-6K 0.285/0.297")

SHIPPED = Path(__file__).resolve().parents[2] / "assets" / "models"  # the micro demo models the project ships


KNOWN = (
    KnownCheckpoint("llava-v1.5-7b", "llava-hf/llava-1.5-7b-hf", "llava", "llava-hf", "transformers, as it is",
                    NOT_CHECKED, LLAVA_A3, "baseline"),
    KnownCheckpoint("llava-v1.5-13b", "llava-hf/llava-1.5-13b-hf", "llava", "llava-hf", "transformers, as it is",
                    NOT_CHECKED, "", "baseline"),
    KnownCheckpoint("q-instruct-llava-v1.5-7b", "teowu/llava_v1.5_7b_qinstruct_preview_v0.1", "llava",
                    "original LLaVA", "converted once to llava-hf (its CLIP tower must be in the cache)",
                    NOT_CHECKED, "", "tuned"),
    KnownCheckpoint("q-instruct-llava-v1.5-13b", "teowu/llava_v1.5_13b_qinstruct_preview_v0.1", "llava",
                    "original LLaVA", "converted once to llava-hf (its CLIP tower must be in the cache)",
                    NOT_CHECKED, "", "tuned"),
    KnownCheckpoint("mplug-owl2-7b", "MAGAer13/mplug-owl2-llama2-7b", "mplug-owl2", "original mPLUG-Owl2",
                    "natively, as it is", NOT_CHECKED, "", "baseline"),
    KnownCheckpoint("q-instruct-mplug-owl2-7b", "teowu/mplug_owl2_7b_448_qinstruct_preview_v0.2", "mplug-owl2",
                    "original mPLUG-Owl2", "natively, as it is", "apache-2.0 (the v0.1 card; v0.2 not checked)", "",
                    "tuned"),
    KnownCheckpoint("q-instruct-mplug-owl2-1031", "q-future/q-instruct-mplug-owl2-1031", "mplug-owl2",
                    "original mPLUG-Owl2", "natively, as it is", NOT_CHECKED, "", "tuned"),
    KnownCheckpoint("one-align", "q-future/one-align", "mplug-owl2", "original mPLUG-Owl2", "natively, as it is",
                    "mit", "its card: score() of Q-Align's singapore_flyer.jpg = 1.911 (fp16; "
                    "`rate --rating-prompt one-align`)", "tuned"),
    KnownCheckpoint("co-instruct", "q-future/co-instruct", "mplug-owl2", "original mPLUG-Owl2", "natively, as it is",
                    NOT_CHECKED, "its card: Q-Bench A1 pair questions 80.18 (LLaVA-v1.5: 52.25)", "tuned"),
    KnownCheckpoint("deqa-score-mix3", "zhiyuanyou/DeQA-Score-Mix3", "mplug-owl2", "original mPLUG-Owl2",
                    "natively, as it is", "mit", "", "tuned"),
    KnownCheckpoint("internlm-xcomposer-vl-7b", "internlm/internlm-xcomposer-vl-7b", "", "remote code",
                    "not in-process (its code pins transformers 4.33.1): serve it, then openai:MODEL@URL",
                    NOT_CHECKED, "", "baseline"),
)


def local_path(checkpoint: KnownCheckpoint) -> str | None:
    """The checkpoint's folder in the local Hugging Face cache, if it is there (never downloads)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(checkpoint.hub_id, "config.json")
    return str(Path(found).parent) if isinstance(found, str) else None


def known_rows() -> list[dict]:
    """Every known checkpoint with where it is: the cached folder, or the command that fetches it."""
    rows = []
    for checkpoint in KNOWN:
        path = local_path(checkpoint)
        rows.append({**asdict(checkpoint), "on_disk": path, "fetch": None if path else checkpoint.fetch_command()})
    return rows


def missing_line(spec: str) -> str | None:
    """For a model picker: when `spec` names a known checkpoint's hub id that is not in the local cache, the line
    that says so and how to fetch it (said beside the choice, before any question is asked); otherwise None."""
    spec = (spec or "").strip()
    for checkpoint in KNOWN:
        if spec == checkpoint.hub_id and local_path(checkpoint) is None:
            return (f"`{spec}` ({checkpoint.name}) is not downloaded, and nothing is downloaded while the studio "
                    f"runs: `{checkpoint.fetch_command()}` first")
    return None


def hint_markdown() -> str:
    """The Chat tab's hint under the model pickers: the field's checkpoints and whether each is here."""
    lines = ["**The field's checkpoints** (type the hub id once it is in the cache):"]
    for row in known_rows():
        where = "in the cache" if row["on_disk"] else f"`{row['fetch']}`"
        lines.append(f"- {row['name']} ({row['role']}, {row['loads']}): `{row['hub_id']}` — {where}")
    return "\n".join(lines)
