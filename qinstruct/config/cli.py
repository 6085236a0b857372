"""Command-line flags derived from a job's config dataclass, and the config read back from flags + --config.

Every field becomes one argument: positional fields as positionals, booleans as --x/--no-x, lists as
`--x A B` (repeating the flag extends the list), choices and help from the field.  `--config FILE.yaml` gives
the same keys as a file; a flag given with it overrides the file's value.
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TypeVar

from .schema import (
    ConfigError,
    check_bounds,
    check_value,
    config_from_mapping,
    field_choices,
    field_default,
    flag_name,
    is_list,
    is_required,
    job_fields,
    read_yaml_mapping,
    scalar_type,
    type_hints,
)

T = TypeVar("T")
CONFIG_DEST, PRINT_CONFIG_DEST, PRINT_COMMAND_DEST = "config", "print_config", "print_command"


def _help_text(field: dataclasses.Field) -> str:
    text = field.metadata.get("help", "")
    default = field_default(field)
    if is_required(field):
        return f"{text} (required)"
    if default in (None, [], "") or isinstance(default, bool):
        return text
    shown = " ".join(map(str, default)) if isinstance(default, list) else default
    return f"{text} (default: {shown})".replace("%", "%%")


def _converter(kind: Any):
    if kind is bool:
        return None
    if kind in (int, float):
        return kind
    return str


def add_config_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one argument per field of `cls`, plus --config, --print-config and --print-command."""
    hints = type_hints(cls)
    options = parser.add_argument_group("job options (the same keys work in a --config YAML file)")
    for field in job_fields(cls):
        if not field.metadata.get("cli", True):
            continue
        hint = hints[field.name]
        kind = scalar_type(hint)
        choices = field_choices(field, hint)
        kwargs: dict[str, Any] = {"help": _help_text(field), "default": argparse.SUPPRESS}
        if field.metadata.get("metavar"):
            kwargs["metavar"] = field.metadata["metavar"]
        if choices is not None and kind is not bool:
            kwargs["choices"] = choices
        if field.metadata.get("positional"):
            parser.add_argument(field.name, nargs="*" if is_list(hint) else "?", type=_converter(kind), **kwargs)
            continue
        if kind is bool and not is_list(hint):
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _converter(kind)
            if is_list(hint):
                kwargs.update(nargs="+", action="extend")
        options.add_argument(flag_name(field), dest=field.name, **kwargs)
    meta = parser.add_argument_group("config files")
    meta.add_argument("--config", dest=CONFIG_DEST, metavar="FILE.yaml", default=None,
                      help="read the job's keys from a YAML file; flags given as well override it")
    meta.add_argument("--print-config", dest=PRINT_CONFIG_DEST, action="store_true",
                      help="print the job as commented YAML (for --config) and exit without running it")
    meta.add_argument("--print-command", dest=PRINT_COMMAND_DEST, action="store_true",
                      help="print the shortest command line that runs this job and exit")


def given_flags(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields the command line set (argparse leaves the others out)."""
    hints = type_hints(cls)
    values = {}
    for field in job_fields(cls):
        if not hasattr(args, field.name):
            continue
        value = getattr(args, field.name)
        if field.metadata.get("positional") and is_list(hints[field.name]) and value == []:
            continue  # nargs="*" with nothing given
        values[field.name] = value
    return values


def check_keys(cls: type, data: dict, source: str) -> None:
    """Check the keys a source gives, each on its own (types, choices, ranges): the error names that source,
    even when another source supplies the rest of the job."""
    hints = type_hints(cls)
    fields = {f.name: f for f in job_fields(cls)}
    unknown = sorted(str(k) for k in data if k not in fields)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    for name, value in data.items():
        key = flag_name(fields[name]) if source == "command line" else name
        try:
            check_bounds(check_value(value, hints[name], key), fields[name], hints[name], key)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None


def config_from_args(cls: type[T], args: argparse.Namespace, base: dict | None = None) -> T:
    """The job from `--config FILE` (if any), then `base` (a verb's own sugar), then the flags given."""
    path = getattr(args, CONFIG_DEST, None)
    from_file = read_yaml_mapping(path) if path else {}
    if from_file:
        check_keys(cls, from_file, str(path))
    flags = {**(base or {}), **given_flags(cls, args)}
    check_keys(cls, flags, "command line")
    source = f"{path} with the command line" if path and flags else str(path) if path else "command line"
    return config_from_mapping(cls, {**from_file, **flags}, source)


def handle_print_requests(config: Any, args: argparse.Namespace) -> bool:
    """--print-config / --print-command: print and tell the verb to stop."""
    from .render import config_to_yaml, shell_line

    if getattr(args, PRINT_CONFIG_DEST, False):
        print(config_to_yaml(config), end="")
        return True
    if getattr(args, PRINT_COMMAND_DEST, False):
        print(shell_line(config))
        return True
    return False


def add_job_parser(subparsers: argparse._SubParsersAction, job, cls: type | None = None, run=None, *, help: str,
                   description: str | None = None, sugar=None, early=None) -> argparse.ArgumentParser:
    """A verb whose options are the fields of a config class.  `job` is a long job's JobSpec (the verb is the last
    word of its config's COMMAND, and `spec.run(config)` runs it), or a verb's name with its config `cls` and
    `run(config, args)`.  `run` may also stand in for a JobSpec's run when the verb has flags of its own;
    `sugar(args)` may turn a verb's shorthand flags (added by the caller) into field values, which explicit
    flags still override; `early(args)` may answer before any config is built (e.g. `--list`), returning an exit
    status or None."""
    spec = None if isinstance(job, str) else job
    if spec is not None:
        job, cls = spec.verb[-1], spec.config
        run = run or (lambda config, args: spec.run(config))
    parser = subparsers.add_parser(job, help=help, description=description or help,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, cls)

    def func(args: argparse.Namespace) -> int:
        if early is not None:
            status = early(args)
            if status is not None:
                return status
        config = config_from_args(cls, args, sugar(args) if sugar else None)
        if handle_print_requests(config, args):
            return 0
        return run(config, args)

    # job_class: which config the verb reads; job_spec: the long job it runs, if it is one (tools, tests)
    parser.set_defaults(func=func, job_class=cls, job_spec=spec)
    return parser
