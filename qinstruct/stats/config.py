"""The statistics jobs' configs (kept apart from the figures, so that the CLI reads them without matplotlib).

Every statistics job reads FILE[=SOURCE] arguments: pathway JSONL, MOS lists, Q-Bench outputs or instruction
JSON; `=SOURCE` names the source of files that carry none.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import ConfigError, option


@dataclass(kw_only=True)
class StatsInput:
    files: list[str] = option(help="FILE or FILE=SOURCE: pathway JSONL, MOS list, Q-Bench output or instruction "
                              "JSON", positional=True, metavar="FILE[=SOURCE]")
    scales: list[str] = option(default_factory=list, help="SOURCE=FACTOR rescales a source's MOS to [0, 100] "
                               "(default: inferred from its range)", flag="--scale", metavar="SOURCE=FACTOR")
    skip_invalid: bool = option(False, help="load what is valid and report the rest")

    def validate(self) -> None:
        from .dataset import parse_scales

        if not self.files:
            raise ConfigError("files: give at least one FILE[=SOURCE]")
        parse_scales(self.scales)


@dataclass(kw_only=True)
class Table1Config(StatsInput):
    COMMAND: ClassVar = ("stats", "table1")


@dataclass(kw_only=True)
class BalanceJobConfig(StatsInput):
    COMMAND: ClassVar = ("stats", "balance")

    budget: list[str] = option(help="items kept per source: N for every source, SOURCE=N for one",
                               metavar="N|SOURCE=N")
    bins: int = option(10, help="MOS bins of the histogram to flatten", min=2, max=100)
    seed: int = option(0, help="seed of the sampler", min=0, max=2**32 - 1)
    out: str = option(help="output file: a JSON list of {img_path, gt_score, source}")

    def budgets(self) -> tuple[int | None, dict[str, int]]:
        """(the budget of every source or None, per-source budgets)."""
        default, per_source = None, {}
        for spec in self.budget:
            source, sep, value = spec.rpartition("=")
            try:
                number = int(value)
            except ValueError:
                raise ConfigError(f"budget: expected N or SOURCE=N, got {spec!r}") from None
            if number < 1:
                raise ConfigError(f"budget: expected a positive number of items, got {spec!r}")
            if sep:
                per_source[source] = number
            else:
                default = number
        return default, per_source

    def validate(self) -> None:
        super().validate()
        if not self.budget:
            raise ConfigError("budget: give N or SOURCE=N")
        self.budgets()


@dataclass(kw_only=True)
class StatsConfig(StatsInput):
    """The full report: Table 1, the balanced sample and every figure."""
    COMMAND: ClassVar = ("stats", "report")

    out: str = option(help="output folder: PNG figures, CSV tables, report.md, report.zip")
    sources: list[str] = option(default_factory=list, help="keep only these sources (default: all)",
                                flag="--source", metavar="SOURCE")
    mos_min: float = option(0.0, help="keep rows with MOS >= this", min=0, max=100)
    mos_max: float = option(100.0, help="keep rows with MOS <= this", min=0, max=100)
    budget: int = option(0, help="also balance to N items per source (0: no balancing)", min=0,
                        max=100_000_000)
    bins: int = option(10, help="MOS bins for histograms and balancing", min=2, max=100)
    seed: int = option(0, help="seed of the balancing sampler", min=0, max=2**32 - 1)

    def validate(self) -> None:
        super().validate()
        if self.mos_min > self.mos_max:
            raise ConfigError("mos_min must not exceed mos_max")

    @property
    def filters_mos(self) -> bool:
        return self.mos_min > 0 or self.mos_max < 100

    def key(self) -> str:
        """The same files and settings, the same key: a report folder named by it is rewritten, not repeated."""
        import hashlib
        import json

        from ..config import config_to_dict

        values = {k: v for k, v in config_to_dict(self).items() if k != "out"}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
