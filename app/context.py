"""What every tab receives: the workspace, what its users may reach, and shared services (one per studio,
never per-session data)."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from qinstruct.access import AccessPolicy
from qinstruct.jobs.launcher import Launcher
from qinstruct.models.pool import ModelPool
from qinstruct.workspace import Workspace


@dataclass(frozen=True)
class AppContext:
    workspace: Workspace
    access: AccessPolicy
    pool: ModelPool  # the models every Chat session shares (weights only: keys and turns are per session)
    jobs: Launcher  # every long job a tab starts: its own process, limited, owned, outliving the page

    @classmethod
    def open(cls, workspace: Workspace, access: AccessPolicy | None = None, max_jobs: int | None = None) -> "AppContext":
        """The studio's context; by default browser users reach only the workspace."""
        access = access or AccessPolicy.for_studio(workspace.root)
        return cls(workspace, access, ModelPool(capacity=2, policy=access), Launcher(workspace.root, access, max_jobs))


def actor(request: gr.Request | None) -> str | None:
    """Who acts: the logged-in user, or None -- the operator -- in a studio without a login (the person at the
    laptop started it)."""
    return getattr(request, "username", None) or None
