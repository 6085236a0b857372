"""What every tab receives: the workspace, and shared services (one per studio, never per-session data)."""
from __future__ import annotations

from dataclasses import dataclass

from qinstruct.workspace import Workspace


@dataclass(frozen=True)
class AppContext:
    workspace: Workspace
