"""Print the real-shape checks (meta device, no weights): every name and shape of the released LLaVA-v1.5-7B/13B
(original layout) and mPLUG-Owl2-7B checkpoints against the models the studio builds for them.
    run: .venv/bin/python -m scripts.real_shapes"""
import json
import sys
from pathlib import Path

from qinstruct.models.real_shapes import llava_check, owl2_check

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    reports = [llava_check("7b"), llava_check("13b"),
               owl2_check(json.loads((ROOT / "tests/fixtures/owl2_original/owl2_7b_published_keys.json").read_text()))]
    for report in reports:
        print(report.line())
        for problem in report.problems[:10]:
            print(f"  {problem}")
    return 1 if any(report.problems for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
