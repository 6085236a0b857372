"""What a user of this process may reach: folders to read data and models from, code to trust, keys to send.

On the command line the user started the process, so everything is theirs (`AccessPolicy.unrestricted()`).
In the studio a browser user is not the operator: paths typed in the UI resolve only inside the workspace and
the folders the operator listed; model specs resolve only to the workspace's models, the operator's model
folders and hub ids (never an uploaded folder); remote code runs only for the specs the operator listed; and
the environment's API key goes only to the endpoints the operator configured.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import ConfigError
from .endpoints import COMMAND_LINE, KeyPolicy

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


class AccessDenied(ConfigError):
    """A path or a spec outside what this process lets its user reach."""


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


@dataclass(frozen=True)
class AccessPolicy:
    data_roots: tuple[Path, ...] | None = None  # None: any path
    model_roots: tuple[Path, ...] | None = None  # None: any path
    base: Path | None = None  # relative paths resolve here (the workspace) rather than the working directory
    trusted_specs: frozenset[str] | None = None  # None: trust_remote_code when asked; else only these specs
    keys: KeyPolicy = field(default=COMMAND_LINE)

    @classmethod
    def unrestricted(cls) -> "AccessPolicy":
        return cls()

    @classmethod
    def for_studio(cls, workspace_root: Path, data_dirs: list[str] = (), model_dirs: list[str] = (),
                   trusted_specs: list[str] = (), endpoints: list[str] = (),
                   endpoints_only: bool = False) -> "AccessPolicy":
        """The studio's policy from the operator's flags (their paths are the operator's: relative to the
        directory the studio was started in, ~ expanded)."""
        root = Path(workspace_root).resolve()
        data = tuple(dict.fromkeys([root, *(_operator_path(d) for d in data_dirs)]))
        models = tuple(dict.fromkeys([(root / "models").resolve(), (root / "runs").resolve(),
                                      *(_operator_path(d) for d in model_dirs)]))
        trusted = frozenset(str(_operator_path(s)) if _operator_path(s).exists() else s.strip()
                            for s in trusted_specs)
        return cls(data, models, root, trusted, KeyPolicy.for_studio(list(endpoints), endpoints_only))

    @property
    def restricted(self) -> bool:
        return self.data_roots is not None

    def _resolve(self, text: str) -> Path:
        path = Path(text.strip())
        if not self.restricted:
            return path.expanduser()
        if not path.is_absolute():
            path = (self.base or Path.cwd()) / path
        return path.resolve()

    def data_path(self, text: str, what: str = "path") -> Path:
        """A path typed by a user, confined to the data roots; relative paths start at the workspace."""
        if not text or not text.strip():
            raise ConfigError(f"{what}: empty")
        path = self._resolve(text)
        if self.data_roots is not None and not _inside(path, self.data_roots):
            raise AccessDenied(f"{text}: outside the folders this studio may read (the workspace"
                               + (" and the folders its operator listed" if len(self.data_roots) > 1 else "")
                               + "); copy the data into the workspace or ask the operator to start the studio "
                               "with --allow-dir")
        return path

    def data_spec(self, text: str) -> str:
        """FILE or FILE=SOURCE with FILE confined like data_path (statistics inputs name their source)."""
        path, sep, source = text.strip().partition("=")
        return str(self.data_path(path, "file")) + (sep + source if sep else "")

    def model_path(self, text: str) -> Path | None:
        """The folder a model spec names, confined to the model roots; None when the spec is not a path
        (a hub id).  Raises AccessDenied for a folder outside the roots."""
        text = text.strip()
        if not self.restricted:
            path = Path(text).expanduser()
            return path if path.exists() or _looks_like_path(text) else None
        path = self._resolve(text)
        if path.exists():
            if not _inside(path, self.model_roots or ()):
                raise AccessDenied(f"{text}: model folders must be in the workspace's models/ or runs/"
                                   + (" or a folder the operator listed" if len(self.model_roots or ()) > 2 else "")
                                   + "; copy the model there")
            return path
        if _looks_like_path(text, self.base) or not HUB_ID.fullmatch(text):
            raise AccessDenied(f"{text}: no such model folder in the workspace's models/ or runs/")
        if Path(text).exists():  # the hub loader would read the server's working directory first
            raise AccessDenied(f"{text}: names a folder in the server's working directory, not a hub id")
        return None

    def resolve_spec_text(self, text: str) -> str:
        """A spec as typed by a user, in the form of the trusted list (an existing folder: its resolved path)."""
        if text.startswith(("tiny:", "openai:")):
            return text.strip()
        path = self._resolve(text) if self.restricted else Path(text).expanduser()
        return str(path.resolve()) if path.exists() else text.strip()

    def may_trust(self, spec_text: str) -> bool:
        return self.trusted_specs is None or self.resolve_spec_text(spec_text) in self.trusted_specs

    @property
    def trust_offered(self) -> bool:
        """Whether a user of this process can ask for trust_remote_code at all."""
        return self.trusted_specs is None or bool(self.trusted_specs)


def _operator_path(text: str) -> Path:
    return Path(text.strip()).expanduser().resolve()


def _looks_like_path(text: str, base: Path | None = None) -> bool:
    """A hub id is NAME or ORG/NAME; anything else with slashes, starting like a path, or whose first part is a
    local folder (runs/x, models/x), is a path."""
    first = text.split("/", 1)[0]
    return (text.startswith((".", "/", "~")) or text.count("/") > 1
            or ("/" in text and ((base or Path.cwd()) / first).is_dir()))


UNRESTRICTED = AccessPolicy.unrestricted()
