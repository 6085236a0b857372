"""What every tab receives: the workspace and what its viewer may reach, and shared services (one per studio,
never per-session data).

Each event sees the studio through its user's eyes (`scoped`): a logged-in user's context holds their namespace
(users/NAME/ of the workspace) and their access policy, so a handler that reads `ctx.workspace` or `ctx.access`
can reach nothing of another user's.  The operator (a studio without a login) sees the whole workspace."""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field, replace

import gradio as gr

from qinstruct.access import AccessPolicy
from qinstruct.demo.shipped import default_pair
from qinstruct.jobs.launcher import Launcher
from qinstruct.models.pool import ModelPool, list_model_specs
from qinstruct.workspace import Workspace


@dataclass(frozen=True)
class AppContext:
    workspace: Workspace  # the viewer's: the whole workspace for the operator, users/NAME/ for a logged-in user
    access: AccessPolicy  # what the viewer may reach
    pool: ModelPool  # the models every Chat session shares (weights only: keys and turns are per session)
    jobs: Launcher  # every long job a tab starts: its own process, limited, owned, outliving the page
    user: str | None = None  # the viewer: None is the operator
    logins: bool = False  # whether the studio has logins: then the page is built for nobody in particular
    studio: AppContext | None = field(default=None, repr=False, compare=False)  # the operator's, views derive

    @classmethod
    def open(cls, workspace: Workspace, access: AccessPolicy | None = None, max_jobs: int | None = None,
             logins: bool = False, **limits) -> AppContext:
        """The studio's context; by default browser users reach only the workspace.  `limits`: the launcher's
        per-user limits."""
        access = access or AccessPolicy.for_studio(workspace.root)
        jobs = Launcher(workspace.root, access, max_jobs, **limits)
        return cls(workspace, access, ModelPool(capacity=2, policy=access), jobs, None, logins)

    def for_user(self, user: str | None) -> AppContext:
        """The studio as `user` sees it (None: the operator), whichever view this is."""
        studio = self.studio or self
        if user == self.user:
            return self
        if user is None:
            return studio
        access = studio.access.for_user(user)
        return replace(studio, workspace=studio.workspace.for_user(user), access=access,
                       jobs=studio.jobs.as_user(access), pool=studio.pool.as_user(access), user=user, studio=studio)

    def scoped(self, request: gr.Request | None) -> AppContext:
        """The context of the request's user.  With logins, a request that names no user (a route Gradio serves
        without its login) is refused: it never falls back to the operator's whole workspace."""
        who = actor(request)
        if who is None and self.logins:
            raise gr.Error("Log in first.")
        return self.for_user(who)

    def model_choices(self, page: bool = False) -> list[str]:
        """The model specs this viewer may pick, as they type them: the workspace's models/, the models of their
        own runs, the tiny ones.  `page`: the choices built into the page, which every visitor gets before an
        event knows who they are: with logins, no run's models (each user's own arrive with `model_dropdowns`)."""
        folders = [self.workspace.models, *([] if page and self.logins else [self.workspace.runs])]
        return list_model_specs(self.workspace.relative, *folders)

    def default_models(self) -> tuple[str | None, str | None]:
        """The shipped baseline and tuned demo models, as every viewer types them (models/...)."""
        return default_pair(self.workspace.models, self.workspace.top)


def actor(request: gr.Request | None) -> str | None:
    """Who acts: the logged-in user, or None -- the operator -- in a studio without a login (the person at the
    laptop started it)."""
    return getattr(request, "username", None) or None


def user_event(handler, ctx: AppContext, *bound_args, **bound_kwargs):
    """A tab's event handler run with the context of the user who fired the event: `handler(ctx, ...)` gets
    `ctx.scoped(request)`, so no handler can reach past its user's namespace by forgetting to scope.  Gradio still
    sees the remaining parameters with their types (it fills gr.Request, gr.Progress, gr.SelectData), and a
    generator stays a generator.  A handler that takes no request is given one (Gradio passes it positionally,
    after the inputs); one that takes `*values` names its request before them."""
    signature = inspect.signature(handler)
    params = [p for p in list(signature.parameters.values())[1 + len(bound_args):] if p.name not in bound_kwargs]
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    index = next((i for i, p in enumerate(params) if p.name == "request"), None)
    added = index is None
    if added:
        if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
            raise TypeError(f"{handler.__name__}: a handler taking *values names its request before them")
        index = sum(p.kind in positional for p in params)
        params.insert(index, inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                               annotation=gr.Request))

    def arguments(args: tuple, kwargs: dict) -> tuple[AppContext, list, dict]:
        args, kwargs = list(args), {**bound_kwargs, **kwargs}
        if "request" in kwargs:
            request = kwargs.pop("request") if added else kwargs["request"]
        elif len(args) > index:
            request = args.pop(index) if added else args[index]
        else:
            request = None
        return ctx.scoped(request), [*bound_args, *args], kwargs

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            scoped, args, kwargs = arguments(args, kwargs)
            yield from handler(scoped, *args, **kwargs)
    else:
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            scoped, args, kwargs = arguments(args, kwargs)
            return handler(scoped, *args, **kwargs)
    names = {p.name for p in params} | {"return"}
    bound.__signature__ = signature.replace(parameters=params)
    bound.__annotations__ = {k: v for k, v in getattr(handler, "__annotations__", {}).items() if k in names}
    bound.__annotations__["request"] = gr.Request
    return bound


def model_dropdowns(ctx: AppContext, count: int = 1):
    """On page load: model dropdowns offer this user's choices (the page was built with the shared ones only)."""
    update = gr.Dropdown(choices=ctx.model_choices())
    return update if count == 1 else (update,) * count
