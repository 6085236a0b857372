"""Every number a job takes has bounds: a form (and a YAML file, a flag) cannot ask for a 301-digit step count."""
import dataclasses
import importlib
import pkgutil

import qinstruct
from qinstruct.config.schema import field_choices, job_fields, scalar_type, type_hints


def job_config_classes() -> set[type]:
    found = set()
    for module in pkgutil.walk_packages(qinstruct.__path__, "qinstruct."):
        if module.name.endswith("__main__"):
            continue
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and any(
                    "help" in f.metadata for f in dataclasses.fields(value)):
                found.add(value)
    return found


def test_every_numeric_field_has_a_maximum():
    classes = job_config_classes()
    assert len(classes) > 15  # the walk found the jobs (train, eval, corrupt, convert, stats, ...)
    unbounded = [f"{cls.__name__}.{field.name}" for cls in classes for field in job_fields(cls)
                 if scalar_type(type_hints(cls)[field.name]) in (int, float) and field.metadata.get("max") is None
                 and field_choices(field, type_hints(cls)[field.name]) is None]
    assert unbounded == []


def test_a_301_digit_step_count_is_refused():
    import pytest

    from qinstruct.config import ConfigError, config_from_mapping
    from qinstruct.train.config import TrainConfig

    with pytest.raises(ConfigError, match="max_steps: expected a value >= 0 and <= 100000000"):
        config_from_mapping(TrainConfig, {"model": "tiny:llava", "output_dir": "x", "strategy": "baseline",
                                          "high_level": ["a.json"], "max_steps": int(1e300)}, "the form")
