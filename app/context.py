"""What every tab receives: the workspace, what its users may reach, and shared services (one per studio,
never per-session data)."""
from __future__ import annotations

from dataclasses import dataclass

from qinstruct.access import AccessPolicy
from qinstruct.eval.background import EvalWorker
from qinstruct.models.pool import ModelPool
from qinstruct.workspace import Workspace


@dataclass(frozen=True)
class AppContext:
    workspace: Workspace
    access: AccessPolicy
    pool: ModelPool  # the models every Chat session shares (weights only: keys and turns are per session)
    evaluations: EvalWorker  # the Evaluate tab's jobs, one at a time, outliving the page that asked

    @classmethod
    def open(cls, workspace: Workspace, access: AccessPolicy | None = None) -> "AppContext":
        """The studio's context; by default browser users reach only the workspace."""
        access = access or AccessPolicy.for_studio(workspace.root)
        return cls(workspace, access, ModelPool(capacity=2, policy=access), EvalWorker())
