"""A config written back: as commented YAML (for --config and the run folder) and as the exact command line.

A job config class names its verb with a `COMMAND` class attribute, e.g. `("stats", "report")`.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from .schema import config_to_dict, field_choices, flag_name, is_list, job_fields, non_default, type_hints

PROGRAM = "qinstruct"


def command_of(config_or_cls: Any) -> tuple[str, ...]:
    cls = config_or_cls if isinstance(config_or_cls, type) else type(config_or_cls)
    command = getattr(cls, "COMMAND", None)
    if not command:
        raise TypeError(f"{cls.__name__} has no COMMAND: it is not a job of the qinstruct command")
    return tuple(command)


def _yaml_value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True)
    text = text.strip()
    return text[:-4].rstrip() if text.endswith("\n...") or text.endswith(" ...") else text


def config_to_yaml(config: Any, changed_only: bool = False) -> str:
    """One `key: value  # help` line per field (with `changed_only`, per field that differs from its default:
    what an example file holds), after a header saying how to use the file."""
    cls = type(config)
    hints = type_hints(cls)
    lines = []
    command = getattr(cls, "COMMAND", None)
    if command:
        lines.append(f"# {PROGRAM} {' '.join(command)} --config THIS_FILE  (flags given as well override it)")
    values = non_default(config) if changed_only else config_to_dict(config)
    for field in job_fields(cls):
        if field.name not in values:
            continue
        value = values[field.name]
        comment = field.metadata.get("help", "")
        choices = field_choices(field, hints[field.name])
        if choices is not None and len(choices) <= 8 and hints[field.name] is not bool:
            comment += f" [{', '.join(map(str, choices))}]"
        line = f"{field.name}: {_yaml_value(value)}"
        lines.append(f"{line}  # {comment}" if comment else line)
    return "\n".join(lines) + "\n"


def shell_args(config: Any) -> list[str]:
    """The shortest argument list that rebuilds `config`: positionals, then the flags of non-default fields."""
    cls = type(config)
    hints = type_hints(cls)
    changed = non_default(config)
    positional, flags = [], []
    for field in job_fields(cls):
        if field.name not in changed:
            continue
        value = changed[field.name]
        if not field.metadata.get("cli", True):
            raise ValueError(f"{field.name} has no flag: use --config for this job")
        if field.metadata.get("positional"):
            positional += [str(v) for v in value] if is_list(hints[field.name]) else [str(value)]
        elif value is True or value is False:
            flags.append(flag_name(field) if value else "--no-" + flag_name(field)[2:])
        elif value is None:
            raise ValueError(f"{field.name}: None cannot be given as a flag; use --config for this job")
        elif is_list(hints[field.name]):
            if not value:
                raise ValueError(f"{field.name}: an empty list cannot be given as a flag; use --config")
            flags += [flag_name(field), *map(str, value)]
        else:
            flags += [flag_name(field), str(value)]
    return [PROGRAM, *command_of(config), *positional, *flags]


def shell_line(config: Any, relative_to: str | Path | None = None) -> str:
    """The command that runs `config`; with `relative_to` (a workspace), every path inside that folder is written
    relative to it: the line is run from there, and a page showing it never tells where the server keeps files."""
    args = shell_args(config)
    if relative_to is not None:
        root = str(Path(relative_to)).rstrip("/")
        args = ["." if arg == root else arg.replace(root + "/", "") for arg in args]
    return shlex.join(args)
