"""The data jobs: validate any dataset file; export instruction data for other trainers."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..config import option
from .exporters import export_instructions, exporters_help, list_exporters
from .loaders import FORMATS, ItemStream, LoadResult, check_file, stream_items


@dataclass
class ValidateConfig:
    COMMAND: ClassVar = ("data", "validate")

    file: str = option(help="the dataset file to check", positional=True)
    format: str | None = option(None, help="the file's format (default: detected from the first item)",
                                choices=lambda: list(FORMATS))
    skip_invalid: bool = option(False, help="load what is valid and count the rest")
    image_root: str | None = option(None, help="check that every referenced image exists under this folder")
    strict: bool = option(False, help="missing images are an error")


def validate_file(config: ValidateConfig) -> LoadResult:
    """Counts, the first errors and missing images; the items are read one by one and not kept."""
    return check_file(config.file, config.format, skip_invalid=config.skip_invalid,
                      image_root=config.image_root or None, strict=config.strict)


@dataclass
class ExportConfig:
    COMMAND: ClassVar = ("data", "export")

    file: str = option(help="instruction JSON (Q-Instruct / LLaVA layout)", positional=True)
    to: str = option(help=f"target format ({exporters_help()})", choices=list_exporters)
    out: str = option(help="output folder")
    name: str = option("qinstruct", help="dataset name: the file name and the dataset_info key")
    image_prefix: str = option("", help="prepended to every image path")
    skip_invalid: bool = option(False, help="export the valid items and count the rest")

    def validate(self) -> None:
        from ..config import ConfigError

        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise ConfigError(f"out: {self.out} exists and is not a folder; the export writes a folder")


def export_file(config: ExportConfig) -> tuple[list[Path], ItemStream]:
    """The file is read as the export writes (never held whole); the stream's counts are final on return."""
    items = stream_items(config.file, "instructions", skip_invalid=config.skip_invalid)
    return export_instructions(items, config.out, config.to, config.name, config.image_prefix), items
