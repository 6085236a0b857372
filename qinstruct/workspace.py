"""The workspace folder: everything the studio produces lives here, so a page reload or restart loses nothing.

Default ./workspace; override with --workspace or the QINSTRUCT_HOME environment variable.
"""
from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WORKSPACE = "workspace"


def default_workspace() -> Path:
    return Path(os.environ.get("QINSTRUCT_HOME") or DEFAULT_WORKSPACE)


def new_run_id(prefix: str = "") -> str:
    """Sortable, unique and safe as a folder name: 20261126-101500-3fa2."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{prefix}{stamp}-{secrets.token_hex(2)}"


def safe_name(text: str, fallback: str = "item") -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return cleaned[:80] or fallback


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | Path | None = None) -> "Workspace":
        path = Path(root) if root is not None else default_workspace()
        path.mkdir(parents=True, exist_ok=True)
        return cls(path.resolve())

    def folder(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def contains(self, path: str | Path) -> bool:
        return Path(path).resolve().is_relative_to(self.root)

    @property
    def grids(self) -> Path:
        return self.folder("corrupt", "grids")

    @property
    def batches(self) -> Path:
        return self.folder("corrupt", "batches")

    @property
    def demo_world(self) -> Path:
        """Where the embedded demo world lives (built on the studio's first start)."""
        return self.root / "demo" / "world"

    @property
    def reports(self) -> Path:
        return self.folder("stats", "reports")

    @property
    def uploads(self) -> Path:
        return self.folder("uploads")
