"""What a user of this process may reach: folders to read data and models from, code to trust, keys to send.

On the command line the user started the process, so everything is theirs (`AccessPolicy.unrestricted()`).
In the studio a browser user is not the operator: paths typed in the UI -- and the image paths inside the data
files they name -- resolve only inside the workspace and the folders the operator listed, never into the
workspace's private folders; model specs resolve only to the workspace's models, the operator's model folders
and hub ids (never an uploaded folder); remote code runs only for the specs the operator listed; and the
environment's API key goes only to the endpoints the operator configured.

Every process has one policy (`process_policy()`): the command line's, unless the process is a job the studio
launched, which inherits the studio's policy through its environment (`policy_environment`).  Whatever loads a
model or opens a path from a data file and is not handed a policy uses that one, so a job started from a tab
obeys the studio's rules even in code that never heard of the studio.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .config import ConfigError, path_fields
from .endpoints import COMMAND_LINE, USER_KEY_ENV, KeyPolicy

POLICY_ENV = "QINSTRUCT_ACCESS"  # a launched job's policy, as JSON (paths and endpoints only: never a key)

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
    private: tuple[Path, ...] = ()  # inside the roots, yet never reachable (secrets, users' chats, caches)
    shared_base: Path | None = None  # a user's policy: relative paths into the shared folders resolve here
    user: str | None = None  # the logged-in user this policy is for (None: the operator's, or the command line's)

    @classmethod
    def unrestricted(cls) -> AccessPolicy:
        return cls()

    @classmethod
    def for_studio(cls, workspace_root: Path, data_dirs: list[str] = (), model_dirs: list[str] = (),
                   trusted_specs: list[str] = (), endpoints: list[str] = (),
                   endpoints_only: bool = False, allowed_urls: list[str] = ()) -> AccessPolicy:
        """The studio's policy from the operator's flags (their paths are the operator's: relative to the
        directory the studio was started in, ~ expanded)."""
        from .workspace import PRIVATE_FOLDERS

        root = Path(workspace_root).resolve()
        data = tuple(dict.fromkeys([root, *(_operator_path(d) for d in data_dirs)]))
        models = tuple(dict.fromkeys([(root / "models").resolve(), (root / "runs").resolve(),
                                      *(_operator_path(d) for d in model_dirs)]))
        trusted = frozenset(str(_operator_path(s)) if _operator_path(s).exists() else s.strip()
                            for s in trusted_specs)
        private = tuple((root / folder).resolve() for folder in PRIVATE_FOLDERS)
        keys = KeyPolicy.for_studio(list(endpoints), endpoints_only, list(allowed_urls))
        return cls(data, models, root, trusted, keys, private)

    def for_user(self, user: str | None) -> AccessPolicy:
        """What a logged-in user of this studio may reach: their namespace (users/NAME/) instead of the whole
        workspace, the shared demo world and models/ (read only), and the operator's folders; no other user's
        runs, uploads or models.  The operator (None) keeps the studio's policy.  Relative paths start in the
        namespace, except those into the shared folders (models/..., demo/...)."""
        from .workspace import PRIVATE_FOLDERS, SHARED_FOLDERS, USERS_FOLDER, Workspace

        if user is None or not self.restricted or self.base is None or self.shared_base is not None:
            return self
        top = self.base
        view = Workspace(top).for_user(user)
        own = view.root.resolve()
        shared = tuple((top / folder).resolve() for folder in SHARED_FOLDERS)
        data = tuple(dict.fromkeys(root for old in self.data_roots
                                   for root in ((own, *shared) if old == top else (old,))))
        models = tuple(dict.fromkeys(own / "runs" if root == (top / "runs").resolve() else root
                                     for root in self.model_roots or ()))
        # every namespace is private to a user but their own -- even under an operator's folder that holds the
        # whole workspace (--allow-dir .)
        others = (top / USERS_FOLDER).resolve()
        private = tuple(dict.fromkeys([*self.private, others, *((own / folder) for folder in PRIVATE_FOLDERS)]))
        return replace(self, data_roots=data, model_roots=models, base=own, private=private, shared_base=top,
                       user=user)

    def _private(self, path: Path) -> bool:
        """Inside a folder no user of this policy reaches: a private folder, another user's namespace.  In a
        user's own namespace only its own private folders count (the others' namespaces hold it)."""
        home = self.base if self.user is not None and self.base is not None else None
        if home is not None and _inside(path, (home,)):
            return _inside(path, tuple(p for p in self.private if _inside(p, (home,))))
        return _inside(path, self.private)

    def readable(self, path: Path) -> bool:
        """Whether a resolved path is one this policy's user may read (a file the studio would serve them)."""
        return self.data_roots is None or (_inside(path, (*self.data_roots, *(self.model_roots or ())))
                                           and not self._private(path))

    def to_json(self) -> str:
        """The policy for a job's environment: paths and endpoints, never a key."""
        def paths(values):
            return None if values is None else [str(p) for p in values]
        return json.dumps({"data_roots": paths(self.data_roots), "model_roots": paths(self.model_roots),
                           "base": str(self.base) if self.base else None, "private": paths(self.private),
                           "shared_base": str(self.shared_base) if self.shared_base else None, "user": self.user,
                           "trusted_specs": None if self.trusted_specs is None else sorted(self.trusted_specs),
                           "env_key_endpoints": None if self.keys.env_key_endpoints is None
                           else sorted(self.keys.env_key_endpoints), "only_configured": self.keys.only_configured,
                           "allowed_urls": sorted(self.keys.allowed_urls)})

    @classmethod
    def from_json(cls, text: str) -> AccessPolicy:
        """The policy a launched job was given; anything unreadable gives the strictest policy (nothing to read)."""
        try:
            data = json.loads(text)
            def paths(key):
                return None if data.get(key) is None else tuple(Path(p) for p in data[key])
            trusted = data.get("trusted_specs")
            endpoints = data.get("env_key_endpoints")
            return cls(paths("data_roots"), paths("model_roots"), Path(data["base"]) if data.get("base") else None,
                       None if trusted is None else frozenset(trusted),
                       KeyPolicy(None if endpoints is None else frozenset(endpoints), bool(data.get("only_configured")),
                                 allowed_urls=frozenset(data.get("allowed_urls") or ())),
                       paths("private") or (), Path(data["shared_base"]) if data.get("shared_base") else None,
                       data.get("user") if isinstance(data.get("user"), str) else None)
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls((), (), Path("/nonexistent"), frozenset(), KeyPolicy(frozenset(), True))

    @property
    def restricted(self) -> bool:
        return self.data_roots is not None

    def _resolve(self, text: str) -> Path:
        path = Path(text.strip())
        if not self.restricted:
            return path.expanduser()
        if not path.is_absolute():
            path = self._base_of(path) / path
        return path.resolve()

    def _base_of(self, relative: Path) -> Path:
        """Where a relative path starts: the workspace (a user's namespace), or the workspace itself for the
        shared folders in a user's view."""
        from .workspace import SHARED_FOLDERS

        if self.shared_base is not None and relative.parts and relative.parts[0] in SHARED_FOLDERS:
            return self.shared_base
        return self.base or Path.cwd()

    def data_path(self, text: str, what: str = "path") -> Path:
        """A path typed by a user, confined to the data roots; relative paths start at the workspace."""
        if not text or not text.strip():
            raise ConfigError(f"{what}: empty")
        path = self._resolve(text)
        self._confine(path, text)
        return path

    def _confine(self, path: Path, shown: str) -> None:
        """Refuse a resolved path outside the data roots or inside a private folder.  The message is the same
        whether the path exists or not: a refusal must not tell a user what the server holds."""
        if self.data_roots is None:
            return
        if not _inside(path, self.data_roots) or self._private(path):
            where = "your folders, the demo world and models/" if self.user else "the workspace"
            listed = len(self.data_roots) > (3 if self.user else 1)
            raise AccessDenied(f"{shown}: outside the folders this studio may read ({where}"
                               + (" and the folders its operator listed" if listed else "")
                               + "); copy the data into the workspace or ask the operator to start the studio "
                               "with --allow-dir")

    def data_file_path(self, root: str | Path, relative: str | Path) -> Path:
        """A path read from inside a data file (an item's image), joined to its root and confined exactly like
        a typed path: an absolute or ../ path in a questions, MOS or training file reaches nothing a user could
        not type."""
        path = Path(root) / str(relative)
        if self.data_roots is None:
            return path
        resolved = path.resolve()
        self._confine(resolved, str(relative))
        return resolved

    def data_spec(self, text: str) -> str:
        """FILE or FILE=SOURCE with FILE confined like data_path (statistics inputs name their source)."""
        path, sep, source = text.strip().partition("=")
        return str(self.data_path(path, "file")) + (sep + source if sep else "")

    def confine(self, config):
        """The job's config with every field marked `option(path=...)` confined to what this policy's user may
        read and resolved (a relative path starts in their namespace, or the workspace for the shared folders).
        A path outside is refused whether it exists or not; whether it exists is `require_present`'s to say."""
        values = {name: _map_paths(getattr(config, name), kind, lambda text, what=name: str(
                  self.data_path(text, what.replace("_", " "))))
                  for name, kind in path_fields(type(config)).items()}
        return replace(config, **values)

    def require_present(self, config) -> None:
        """Every path a (confined) config reads is there, before a job is started on it; the refusal names the
        field and the path as the config holds it."""
        for name, kind in path_fields(type(config)).items():
            def present(text: str, name=name, kind=kind) -> str:
                path = Path(text)
                folder = kind == "folder"
                if not (path.is_dir() if folder else path.exists()):
                    raise ConfigError(f"{name.replace('_', ' ')}: {self.shown(path)}: no such "
                                      f"{'folder' if folder else 'file'} in the workspace")
                return text
            _map_paths(getattr(config, name), kind, present)

    def shown(self, path: Path) -> str:
        """A path as its user sees it: relative to their namespace (or the workspace), never the server's."""
        for base in (self.base, self.shared_base):
            if base is not None and _inside(path, (base,)):
                return str(path.relative_to(base))
        return str(path) if not self.restricted else path.name

    def model_path(self, text: str) -> Path | None:
        """The folder a model spec names, confined to the model roots; None when the spec is not a path
        (a hub id).  Raises AccessDenied for a folder outside the roots."""
        text = text.strip()
        if not self.restricted:
            path = Path(text).expanduser()
            return path if path.exists() or _looks_like_path(text) else None
        path = self._resolve(text)
        reachable = _inside(path, self.model_roots or ()) and not self._private(path)
        if path.exists() and reachable:
            return path
        if path.exists() or _looks_like_path(text, self._base_of(Path(text))) or not HUB_ID.fullmatch(text):
            raise AccessDenied(self._no_model(text))
        if Path(text).exists():  # the hub loader would read the server's working directory first; said as any
            raise AccessDenied(self._no_model(text))  # other folder is (a different word would tell it exists)
        return None

    def _no_model(self, text: str) -> str:
        """One sentence for a folder this user may not load, whether it exists or not: a refusal must not tell
        a user what the server (or another user) holds."""
        own = "your runs/" if self.user else "the workspace's runs/"
        listed = " or a folder the operator listed" if len(self.model_roots or ()) > 2 else ""
        return (f"{text}: no such model folder here; model folders must be in the workspace's models/ or {own}"
                f"{listed}; copy the model there")

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


def _map_paths(value, kind: str, confine):
    """`value` (a path field's value) with `confine` applied to the path in it: the whole text for a file or a
    folder, the FILE of each FILE[=NAME] ("specs") or FILE[=RATIO][@CAP] ("sources") item; empty values stay."""
    if kind not in ("specs", "sources"):
        return confine(value) if value else value
    items = []
    for item in value or []:
        if kind == "specs":
            path, sep, rest = item.partition("=")
        else:  # the ratio and the cap are the last "=" and "@" (parse_source)
            head, at, cap = item.rpartition("@") if "@" in item else (item, "", "")
            path, eq, ratio = head.rpartition("=") if "=" in head else (head, "", "")
            sep, rest = (eq + ratio + at + cap)[:1], (eq + ratio + at + cap)[1:]
        items.append(confine(path) + sep + rest if path.strip() else item)
    return items


def _operator_path(text: str) -> Path:
    return Path(text.strip()).expanduser().resolve()


def _looks_like_path(text: str, base: Path | None = None) -> bool:
    """A hub id is NAME or ORG/NAME; anything else with slashes, starting like a path, or whose first part is a
    local folder or one of a workspace's own (runs/x, models/x, users/x: whether it exists or not, so that the
    answer tells nothing), is a path."""
    from .workspace import LAYOUT

    first = text.split("/", 1)[0]
    return (text.startswith((".", "/", "~")) or text.count("/") > 1
            or ("/" in text and (first in LAYOUT or ((base or Path.cwd()) / first).is_dir())))


UNRESTRICTED = AccessPolicy.unrestricted()
_installed: AccessPolicy | None = None


def process_policy() -> AccessPolicy:
    """The policy of this process: the one installed (the studio's, in the studio), else the one a launched job
    inherited (QINSTRUCT_ACCESS), else the command line's: its user is the operator."""
    if _installed is not None:
        return _installed
    text = os.environ.get(POLICY_ENV)
    policy = UNRESTRICTED if text is None else AccessPolicy.from_json(text)
    user_key = os.environ.get(USER_KEY_ENV)
    return replace(policy, keys=replace(policy.keys, user_key=user_key)) if user_key else policy


def install_process_policy(policy: AccessPolicy) -> None:
    """The studio makes its policy the process's: code that is handed no policy then gets the studio's, never
    the command line's."""
    global _installed
    _installed = policy


def policy_environment(policy: AccessPolicy, user_key: str | None = None) -> dict[str, str]:
    """The environment variables that give a child process this policy (none for the command line's) and the
    key its user typed, if any (an environment lives in memory only: the key is never written)."""
    out = {POLICY_ENV: policy.to_json()} if policy.restricted else {}
    return {**out, USER_KEY_ENV: user_key} if user_key else out
