"""What every tab shares: form labels from a job's config fields, the "same job from a shell" line, and
turning the core's one-line errors into messages on the tab (the studio never dies from one bad click)."""
from __future__ import annotations

import functools
import inspect

import gradio as gr

from qinstruct.config import field_help, job_fields, shell_line
from qinstruct.errors import UserError


def label(cls: type, name: str, extra: str = "") -> str:
    """A form label from the field's help text: the CLI, the YAML comments and the form say the same thing."""
    text = field_help(cls, name)
    text = text[:1].upper() + text[1:]
    return f"{text} {extra}".strip()


def shell_note(config, workspace=None) -> str:
    """The job as a command; with `workspace` (the studio's), its paths relative to the workspace folder."""
    where = " (from the workspace folder; resumes too)" if workspace is not None else " (resumes too)"
    return f"Same job from a shell{where}: `{shell_line(config, workspace and workspace.top)}`"


def _message(error: BaseException) -> str:
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, RecursionError):
        return "the input is nested too deeply to read"
    if isinstance(error, OSError):
        return f"{getattr(error, 'filename', '') or ''}: {error.strerror or error}".lstrip(": ")
    raise error


def reports_errors(handler=None, *, line: int | None = None, outputs: int = 1):
    """A handler whose user errors (bad input, a missing file, a model that cannot load) appear as a message on
    the tab; works for plain handlers and for generators that stream updates.

    With `line`, the index of a status output among the handler's `outputs`, the message is one line there and
    every other output is left as it was (no Error toast, no red badge on each output); `gr.Error`s the handler
    raises itself go there too.  Events chained with .success() then run after an error as well, so they must
    not depend on it (the Chat tab's vote buttons look at the conversation, not at the event)."""
    if handler is None:
        return functools.partial(reports_errors, line=line, outputs=outputs)
    caught = (UserError, RecursionError, OSError) + ((gr.Error,) if line is not None else ())

    def failed(error: BaseException):
        if line is None:
            raise gr.Error(_message(error)) from None
        return error_line(error.message if isinstance(error, gr.Error) else _message(error), line, outputs)

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def stream(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except caught as error:
                yield failed(error)
        return stream

    @functools.wraps(handler)
    def call(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except caught as error:
            return failed(error)
    return call


ERROR_MARK = "⚠ "  # starts a tab's error line, and nothing else: the page brings such a line into view (main.py)


def error_line(message: str, line: int, outputs: int):
    """The handler's return value for an error: the message at `line`, nothing changed elsewhere."""
    text = ERROR_MARK + message
    return text if outputs == 1 else tuple(text if index == line else gr.skip() for index in range(outputs))


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


def default_of(cls: type, name: str):
    """A field's default: the one value a form starts from (never restated in a tab)."""
    from qinstruct.config.schema import field_default

    return field_default(next(f for f in job_fields(cls) if f.name == name))


def bounds(cls: type, name: str, ui_max: float | None = None) -> dict:
    """value, minimum and maximum of a form control from the field (a slider may stop below the field's own
    maximum: `ui_max`)."""
    from qinstruct.config.schema import field_default

    field = next(f for f in job_fields(cls) if f.name == name)
    low = field.metadata.get("min", field.metadata.get("gt"))
    high = field.metadata.get("max")
    out = {"value": field_default(field)}
    if low is not None:
        out["minimum"] = low
    if ui_max is not None or high is not None:
        out["maximum"] = min(x for x in (ui_max, high) if x is not None)
    return out


def config_form(cls: type, values: dict, skip: tuple[str, ...] = (), open_groups: int = 2, title: str | None = None,
                prefix: str = "") -> dict[str, gr.components.Component]:
    """One control per field of a job config, in the sections its fields name (an accordion each, the first
    `open_groups` open; `title`: one accordion of that name for them all); labels are the field names, the help
    text is the control's info line, choices, ranges and defaults come from the field.  `values` overrides
    defaults (a preset); `skip` leaves fields to the caller; `prefix` keeps element ids apart when two forms share
    field names."""
    from qinstruct.config.schema import (
        MISSING,
        field_choices,
        field_default,
        field_groups,
        is_list,
        scalar_type,
        type_hints,
    )

    hints = type_hints(cls)
    fields = {f.name: f for f in job_fields(cls)}
    controls: dict[str, gr.components.Component] = {}
    groups = {title: [n for names in field_groups(cls).values() for n in names]} if title else field_groups(cls)
    for index, (group, names) in enumerate(groups.items()):
        if all(name in skip for name in names):
            continue
        with gr.Accordion(group if title else group.capitalize(), open=index < open_groups):
            for name in names:
                if name in skip:
                    continue
                field, hint = fields[name], hints[name]
                value = values.get(name, field_default(field))
                value = None if value is MISSING else value  # a required field starts empty
                common = {"label": name.replace("_", " "), "info": field.metadata.get("help", ""),
                          "elem_id": f"form-{prefix}{name.replace('_', '-')}"}
                choices = field_choices(field, hint)
                kind = scalar_type(hint)
                if is_list(hint) and choices is not None:
                    controls[name] = gr.CheckboxGroup(choices, value=list(value or []), **common)
                elif is_list(hint):
                    controls[name] = gr.Textbox("\n".join(map(str, value or [])), lines=2, **common)
                elif kind is bool:
                    controls[name] = gr.Checkbox(bool(value), **common)
                elif choices is not None and value is None:  # an optional choice: "" stands for its default
                    controls[name] = gr.Dropdown([("(default)", ""), *[(str(c), c) for c in choices]], value="",
                                                 **common)
                elif choices is not None:
                    controls[name] = gr.Dropdown(choices, value=value, **common)
                elif kind in (int, float):
                    limits = {k: v for k, v in (("minimum", field.metadata.get("min", field.metadata.get("gt"))),
                                                ("maximum", field.metadata.get("max"))) if v is not None}
                    controls[name] = gr.Number(value, precision=0 if kind is int else None, **limits, **common)
                else:
                    controls[name] = gr.Textbox("" if value is None else str(value), **common)
    return controls


def form_values(cls: type, names: list[str], values: tuple) -> dict:
    """Form values back to config keys (lists from lines, numbers typed, empty optional text as None); the
    config's own checks then say what is wrong."""
    import types
    import typing

    from qinstruct.config.schema import is_list, scalar_type, type_hints

    hints = type_hints(cls)
    out = {}
    for name, value in zip(names, values):
        hint, kind = hints[name], scalar_type(hints[name])
        optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
        if optional and value in ("", None):
            out[name] = None
        elif is_list(hint):
            items = [str(v) for v in value] if isinstance(value, (list, tuple)) else \
                [line.strip() for line in str(value or "").splitlines() if line.strip()]
            out[name] = [_number(item, kind) for item in items] if kind in (int, float) else items
        elif kind is int and isinstance(value, float) and value.is_integer():
            out[name] = int(value)
        elif kind is str and value is None:
            out[name] = ""
        else:
            out[name] = value
    return out


def _number(text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        return text  # the config's check names the field and says a number is expected


def named(handler, names: list[str]):
    """A handler taking `*values` (a whole form), shown to Gradio -- and to API users -- with one parameter per
    form field, so that `client.predict(max_steps=60, ...)` works."""
    signature = inspect.signature(handler)
    fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    fields = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in names]

    @functools.wraps(handler)
    def call(*args):
        return handler(*args)

    call.__signature__ = signature.replace(parameters=fixed + fields)
    return call
