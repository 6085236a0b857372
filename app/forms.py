"""What every tab shares: form labels from a job's config fields, the "same job from a shell" line, and
turning the core's one-line errors into messages on the tab (the studio never dies from one bad click)."""
from __future__ import annotations

import functools
import inspect

import gradio as gr

from qinstruct.config import field_help, shell_line
from qinstruct.errors import UserError


def label(cls: type, name: str, extra: str = "") -> str:
    """A form label from the field's help text: the CLI, the YAML comments and the form say the same thing."""
    text = field_help(cls, name)
    text = text[:1].upper() + text[1:]
    return f"{text} {extra}".strip()


def shell_note(config) -> str:
    return f"Same job from a shell (resumes too): `{shell_line(config)}`"


def _message(error: BaseException) -> str:
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, RecursionError):
        return "the input is nested too deeply to read"
    if isinstance(error, OSError):
        return f"{getattr(error, 'filename', '') or ''}: {error.strerror or error}".lstrip(": ")
    raise error


def reports_errors(handler):
    """A handler whose user errors (bad input, a missing file, a model that cannot load) appear as a message
    on the tab; works for plain handlers and for generators that stream updates."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def stream(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except (UserError, RecursionError, OSError) as error:
                raise gr.Error(_message(error)) from None
        return stream

    @functools.wraps(handler)
    def call(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except (UserError, RecursionError, OSError) as error:
            raise gr.Error(_message(error)) from None
    return call


def bind(handler, *bound_args, **bound_kwargs):
    """functools.partial for event handlers: Gradio still sees the remaining parameters with their types, so it
    fills gr.Request, gr.Progress and gr.SelectData (a partial hides them), and a generator stays a generator."""
    signature = inspect.signature(handler)
    remaining = [p for p in list(signature.parameters.values())[len(bound_args):] if p.name not in bound_kwargs]
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            yield from handler(*bound_args, *args, **bound_kwargs, **kwargs)
    else:
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            return handler(*bound_args, *args, **bound_kwargs, **kwargs)
    names = {p.name for p in remaining} | {"return"}
    bound.__signature__ = signature.replace(parameters=remaining)
    bound.__annotations__ = {k: v for k, v in getattr(handler, "__annotations__", {}).items() if k in names}
    return bound
