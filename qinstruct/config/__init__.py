"""Job configs: one dataclass per job is the only place its options are written down.

CLI flags (`add_config_arguments`), `--config` YAML files (`load_config`), the studio's forms (labels from the
field help), the "same job from a shell" line (`shell_line`) and the run folder's config.yaml
(`config_to_yaml`) are all derived from it; every value passes the same checks (`config_from_mapping`).
"""
from .cli import add_config_arguments, config_from_args, handle_print_requests
from .render import config_to_yaml, shell_args, shell_line
from .schema import (
                     ConfigError,
                     check_config,
                     config_from_mapping,
                     config_to_dict,
                     field_help,
                     job_fields,
                     load_config,
                     non_default,
                     option,
                     path_fields,
                     read_yaml_mapping,
)

__all__ = ["ConfigError", "check_config", "add_config_arguments", "config_from_args", "config_from_mapping",
           "config_to_dict", "config_to_yaml", "field_help", "handle_print_requests", "job_fields", "load_config",
           "non_default", "option", "path_fields", "read_yaml_mapping", "shell_args", "shell_line"]
