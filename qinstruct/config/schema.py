"""A job's config dataclass is the one place its options are written down.

Each field carries its help text, and where they apply its choices (a list, or a function such as a registry's
`list_x`), its range (`min`, `max`, `gt`), whether it is a positional argument and its flag spelling.  Values from
YAML files, flags and forms all pass through `config_from_mapping`, which checks types, choices and ranges and
names the source and the key on every error; the dataclass's `validate()` then checks what spans fields.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from ..errors import UserError

T = TypeVar("T")
MISSING = dataclasses.MISSING


class ConfigError(UserError, ValueError):
    """A config value a user must fix; the message names the source, the field and what is expected."""


def option(default: Any = MISSING, *, help: str, default_factory: Callable[[], Any] | Any = MISSING,
           choices: Iterable | Callable[[], Iterable] | None = None, min: float | None = None,
           max: float | None = None, gt: float | None = None, positional: bool = False, flag: str | None = None,
           metavar: str | None = None, cli: bool = True, affects_result: bool = True, group: str | None = None,
           path: str | None = None, maps_to: str | tuple[str, ...] | None = None) -> Any:
    """A dataclass field with everything the CLI, YAML, forms and checks derive from it.

    choices: allowed values (for a list field: allowed items); a callable is asked when needed, so registries
    that fill up at import time are read late.  min/max: inclusive bounds; gt: exclusive lower bound.
    positional: a positional argument on the command line.  flag: the flag's spelling when it differs from
    --field-name.  cli=False keeps a field out of the command line (set by YAML or code only).
    affects_result=False: the field may change when a run continues (workers, batch sizes, the run folder
    itself); every other field must be what the run was started with.  group: the section of a form the field
    sits in (a field without one joins the section above it).  path: the field names data the job reads, which
    the access policy confines (AccessPolicy.confine) before the job starts: "file", "folder", "file-or-folder",
    "sources" (FILE[=RATIO][@CAP] items) or "specs" (FILE[=NAME] items).  maps_to: the field(s) of a library's
    own config this one is passed to as it is (transformers' TrainingArguments for a training).
    """
    metadata = {"help": help, "choices": choices, "min": min, "max": max, "gt": gt, "positional": positional,
                "flag": flag, "metavar": metavar, "cli": cli, "affects_result": affects_result, "group": group,
                "path": path, "maps_to": (maps_to,) if isinstance(maps_to, str) else maps_to}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def job_fields(cls: type) -> list[dataclasses.Field]:
    """The fields a user sets, the job's own first: a chat job lists its models and prompt before the loading
    and decoding options it shares with other jobs (dataclasses put inherited fields first)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    order: list[str] = []
    for klass in cls.__mro__:
        order += [name for name in vars(klass).get("__annotations__", {}) if name in fields and name not in order]
    return [fields[name] for name in order]


def path_fields(cls: type) -> dict[str, str]:
    """The fields of a job that name data it reads, and how (`option(path=...)`)."""
    return {f.name: f.metadata["path"] for f in job_fields(cls) if f.metadata.get("path")}


def mapped_values(config: Any) -> dict[str, Any]:
    """The values of a config's fields marked `option(maps_to=...)`, under the library's names."""
    return {name: getattr(config, f.name) for f in job_fields(type(config)) for name in f.metadata.get("maps_to") or ()}


def flag_name(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def field_groups(cls: type) -> dict[str, list[str]]:
    """The config's fields by form section, in order: each field's `group`, or its predecessor's."""
    groups: dict[str, list[str]] = {}
    current = "options"
    for field in job_fields(cls):
        current = field.metadata.get("group") or current
        groups.setdefault(current, []).append(field.name)
    return groups


def field_help(cls: type, name: str) -> str:
    return next((f.metadata.get("help", "") for f in job_fields(cls) if f.name == name), "")


def field_choices(field: dataclasses.Field, hint: Any = None) -> list | None:
    choices = field.metadata.get("choices")
    if callable(choices):
        choices = choices()
    if choices is None and hint is not None:
        literal = _literal_values(hint)
        if literal:
            return list(literal)
    return list(choices) if choices is not None else None


def field_default(field: dataclasses.Field) -> Any:
    if field.default is not MISSING:
        return field.default
    if field.default_factory is not MISSING:
        return field.default_factory()
    return MISSING


def is_required(field: dataclasses.Field) -> bool:
    return field.default is MISSING and field.default_factory is MISSING


def type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _literal_values(hint: Any) -> tuple | None:
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for option_hint in typing.get_args(hint):
            if typing.get_origin(option_hint) is Literal:
                return typing.get_args(option_hint)
    return None


def scalar_type(hint: Any) -> Any:
    """The item type behind Optional[...] and list[...]: what a flag's value converts to."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [h for h in typing.get_args(hint) if h is not type(None)]
        return scalar_type(options[0]) if len(options) == 1 else str
    if origin is list:
        (item,) = typing.get_args(hint) or (str,)
        return scalar_type(item)
    if origin is Literal:
        return type(typing.get_args(hint)[0])
    return hint


def is_list(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(is_list(h) for h in typing.get_args(hint) if h is not type(None))
    return origin is list


def _expected(hint: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", Path: "a path"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _check_scalar(value: Any, hint: Any, key: str) -> Any:
    if hint is Any:
        return value
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint in (str, Path):
        ok = isinstance(value, (str, Path)) if hint is Path else isinstance(value, str)
        value = Path(value) if ok and hint is Path else value
    else:
        return value
    if not ok:
        raise ConfigError(f"{key}: expected {_expected(hint)}, got {value!r}")
    return value


def check_value(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option_hint in options:
            if option_hint is type(None):
                continue
            try:
                return check_value(value, option_hint, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{key}: unexpected value {value!r}")
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{key}: expected one of {', '.join(map(str, allowed))}, got {value!r}")
        return value
    if origin is list:
        (item_hint,) = typing.get_args(hint) or (Any,)
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        return [check_value(item, item_hint, f"{key}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        return _from_mapping(hint, value, key + ".")
    return _check_scalar(value, hint, key)


def check_bounds(value: Any, field: dataclasses.Field, hint: Any, key: str) -> None:
    values = value if isinstance(value, list) else [value]
    choices = field_choices(field, hint)
    meta = field.metadata
    for item in values:
        if item is None:
            continue
        if choices is not None and item not in choices:
            raise ConfigError(f"{key}: expected one of {', '.join(map(str, choices))}, got {item!r}")
        if not isinstance(item, (int, float)) or isinstance(item, bool):
            continue
        low, high, above = meta.get("min"), meta.get("max"), meta.get("gt")
        if math.isnan(item) or (low is not None and item < low) or (high is not None and item > high) \
                or (above is not None and item <= above):
            wanted = [f">= {low}" if low is not None else "", f"> {above}" if above is not None else "",
                      f"<= {high}" if high is not None else ""]
            raise ConfigError(f"{key}: expected a value {' and '.join(w for w in wanted if w) or 'that is a number'}"
                              f", got {item!r}")


def _from_mapping(cls: type[T], data: Any, prefix: str = "") -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping of fields, got {type(data).__name__}")
    hints = type_hints(cls)
    fields = {f.name: f for f in job_fields(cls)}
    unknown = sorted(str(k) for k in data if k not in fields)
    if unknown:
        where = prefix.rstrip(".")
        raise ConfigError(f"{where + ': ' if where else ''}unknown key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(fields)}")
    values = {}
    for name, field in fields.items():
        if name in data:
            values[name] = check_value(data[name], hints[name], prefix + name)
            check_bounds(values[name], field, hints[name], prefix + name)
        elif is_required(field):
            raise ConfigError(f"missing required key {prefix + name!r} ({field.metadata.get('help', '')})")
    config = cls(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def config_from_mapping(cls: type[T], data: Any, source: str = "config") -> T:
    """Build `cls` from a mapping; every error is one line: "SOURCE: key: what is expected, got what"."""
    try:
        return _from_mapping(cls, data)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def read_yaml_mapping(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    return data


def load_config(cls: type[T], path: str | Path) -> T:
    return config_from_mapping(cls, read_yaml_mapping(path), str(path))


def plain(value: Any) -> Any:
    """A value as YAML / JSON writes it."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return config_to_dict(value)
    return value


def config_to_dict(config: Any) -> dict[str, Any]:
    return {f.name: plain(getattr(config, f.name)) for f in job_fields(type(config))}


def non_default(config: Any) -> dict[str, Any]:
    """The fields whose value differs from the default (required fields always)."""
    out = {}
    for field in job_fields(type(config)):
        value = plain(getattr(config, field.name))
        default = field_default(field)
        if default is MISSING or value != plain(default):
            out[field.name] = value
    return out


def check_config(config: Any, source: str = "config") -> None:
    """Every field check and validate() on a config built in code (a tab, a test, a script): a job's entry
    point calls this, so that a form gets the same one-line errors as a YAML file or a flag."""
    config_from_mapping(type(config), config_to_dict(config), source)
