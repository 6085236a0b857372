"""The workspace folder: everything the studio produces lives here, so a page reload or restart loses nothing.

Default ./workspace; override with --workspace or the QINSTRUCT_HOME environment variable.
"""
from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .fileio import write_bytes

DEFAULT_WORKSPACE = "workspace"
# Folders the studio never serves and no path box reaches, although they are inside the workspace: secrets, every
# user's conversations and votes, the conversion cache (other users' responses) and the job system's slots.
PRIVATE_FOLDERS = (".secrets", "chat", "convert/.cache", ".jobs")
# A logged-in user's namespace: users/NAME/ holds their runs, uploads, conversions, evaluations, batches, reports,
# conversations and votes -- the same layout as the workspace -- and nobody else's.  What every user shares, read
# only, is the studio's demo world and its models/ (the shipped demo models, the operator's models): in a user's
# view a relative path starting with one of these names resolves in the workspace itself.
USERS_FOLDER = "users"
SHARED_FOLDERS = ("demo", "models")
# the folders a workspace (and each namespace) is made of: a model spec starting with one is a path, never a hub id
LAYOUT = ("runs", "evals", "convert", "corrupt", "uploads", "stats", "chat", USERS_FOLDER, *SHARED_FOLDERS)
# A demo world's files by role (world.json's "files"); world.json is written last: its presence means complete.
WORLD_FILE = "world.json"
WORLD_FILES = {"pathway": "pathway.jsonl", "content": "instruct_content.json", "llvisionqa": "eval/llvisionqa.json",
               "mos": "eval/mos.json", "content_questions": "eval/content.json", "pairs": "eval/pairs.json"}


def world_ready(folder: str | Path) -> bool:
    """Complete, and of this version: a world built before a file joined WORLD_FILES is built again."""
    return (Path(folder) / WORLD_FILE).is_file() and all(world_file(folder, role).is_file() for role in WORLD_FILES)


def world_file(folder: str | Path, role: str) -> Path:
    """A demo world's file by its role (pathway, content, llvisionqa, mos, content_questions)."""
    return Path(folder) / WORLD_FILES[role]


def default_workspace() -> Path:
    return Path(os.environ.get("QINSTRUCT_HOME") or DEFAULT_WORKSPACE)


def new_run_id(prefix: str = "") -> str:
    """Sortable, unique and safe as a folder name: 20261126-101500-3fa2."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{prefix}{stamp}-{secrets.token_hex(2)}"


def safe_name(text: str, fallback: str = "item") -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return cleaned[:80] or fallback


def user_folder_name(user: str) -> str:
    """users/NAME: the login made safe as a folder name, with a short hash of the exact login when making it safe
    changed it (two logins never share a folder: "a b" and "a-b" differ)."""
    import hashlib

    safe = safe_name(user, "user")
    return safe if safe == user else f"{safe}-{hashlib.sha256(user.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Workspace:
    """A workspace as one viewer sees it.  The operator's view: `root` is the workspace.  A logged-in user's view
    (`for_user`): `root` is their namespace users/NAME/, and `top` the workspace, whose demo world and models/ they
    share (read only) with everyone."""
    root: Path
    shared_root: Path | None = None  # a user's view: the workspace holding their namespace

    @classmethod
    def open(cls, root: str | Path | None = None) -> Workspace:
        path = Path(root) if root is not None else default_workspace()
        path.mkdir(parents=True, exist_ok=True)
        return cls(path.resolve())

    @property
    def top(self) -> Path:
        """The workspace itself (the operator's root), whoever views it."""
        return self.shared_root or self.root

    @property
    def user_view(self) -> bool:
        return self.shared_root is not None

    def for_user(self, user: str | None) -> Workspace:
        """The view of a logged-in user (None: the operator, who sees the whole workspace)."""
        if user is None:
            return Workspace(self.top)
        root = self.top / USERS_FOLDER / user_folder_name(user)
        root.mkdir(parents=True, exist_ok=True)
        return Workspace(root, self.top)

    def folder(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def secret(self, name: str) -> str:
        """A random secret kept in the workspace (readable by its owner only), the same after a restart."""
        path = Workspace(self.top).folder(".secrets") / safe_name(name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    @property
    def private(self) -> list[Path]:
        """Folders the studio never serves and no path box reaches (PRIVATE_FOLDERS, in the workspace and in
        this view's namespace)."""
        roots = dict.fromkeys([self.top, self.root])
        return [root / folder for root in roots for folder in PRIVATE_FOLDERS]

    @property
    def shared(self) -> list[Path]:
        """What every user reads and nobody but the operator writes: the demo world, models/."""
        return [self.top / folder for folder in SHARED_FOLDERS]

    @property
    def grids(self) -> Path:
        return self.folder("corrupt", "grids")

    @property
    def batches(self) -> Path:
        """Corruption batches, one run folder per batch name."""
        return self.folder("corrupt", "batches")

    def batch_folder(self, name: str | None) -> Path:
        """A batch's run folder: the given name made safe, or a new dated one."""
        return self.batches / (safe_name(name) if name and name.strip() else new_run_id("batch-"))

    def keep_uploads(self, name: str, files: list[str]) -> tuple[Path, list[str]]:
        """Copy uploaded image files into uploads/NAME (a batch's source folder), each named for what its content
        is (a JSON file called photo.png is refused, a PNG called photo.jpg is stored as photo.png); returns the
        folder and the names refused because they are not image files (only images enter the served workspace)."""
        from .images import IMAGE_SUFFIXES, sniffed_name

        folder, refused = self.folder("uploads", safe_name(name)), []
        for file in files:
            source = Path(file)
            stored = sniffed_name(source) if source.suffix.lower() in IMAGE_SUFFIXES else None
            if stored is None:
                refused.append(source.name)
                continue
            target = folder / safe_name(stored)
            if not target.exists():
                write_bytes(target, source.read_bytes())
        return folder, refused

    def keep_data_upload(self, file: str | Path) -> Path:
        """An uploaded data file (a pathway file, a MOS list) copied into uploads/data/HASH/NAME (its content's hash,
        its own name: a statistics source keeps its name): the path a shell line shows and a job reads stays valid
        after Gradio's cleanup."""
        import hashlib

        source = Path(file)
        data = source.read_bytes()
        target = self.folder("uploads", "data", hashlib.sha256(data).hexdigest()[:12]) / safe_name(source.name)
        if not target.exists():
            write_bytes(target, data)
        return target

    @property
    def demo_world(self) -> Path:
        """Where the embedded demo world lives (built on the studio's first start)."""
        return self.top / "demo" / "world"

    @property
    def demo_examples(self) -> Path:
        """The held-out demo images the Chat tab offers (shared, like the world)."""
        return self.top / "demo" / "examples"

    def demo_file(self, key: str) -> Path:
        """A file of the demo world by its role (world.json's "files": pathway, content, llvisionqa, mos)."""
        from .config import ConfigError

        if not world_ready(self.demo_world):
            raise ConfigError("the demo world is not built yet: press “Build demo world” on the Statistics tab, "
                              f"or run `qinstruct demo world --out {self.demo_world}`")
        return world_file(self.demo_world, key)

    def relative(self, path: Path) -> str:
        """A path in this view as its viewer types it in the studio: relative to their namespace, or to the
        workspace for what they share (models/..., demo/...)."""
        path = Path(path)
        return str(path.relative_to(self.root if path.is_relative_to(self.root) else self.top))

    def shown(self, path: str | Path) -> str:
        """A path as a shell line shows it: relative to the workspace folder (the operator runs it from there),
        so that no page shows where the server keeps its files."""
        path = Path(path)
        return str(path.relative_to(self.top)) if path.is_absolute() and path.is_relative_to(self.top) else str(path)

    @property
    def reports(self) -> Path:
        return self.folder("stats", "reports")

    @property
    def conversions(self) -> Path:
        """Conversion run folders, one per run name."""
        return self.folder("convert")

    def conversion_folder(self, name: str | None) -> Path:
        """A conversion's run folder: the given name made safe (the same name resumes)."""
        return self.conversions / safe_name(name or "conversion", "conversion")

    @property
    def conversion_cache(self) -> Path:
        """The response cache every conversion of the studio shares (the same request is never paid twice)."""
        return self.folder("convert", ".cache")

    @property
    def models(self) -> Path:
        """The workspace's models/ (the shipped demo models, the operator's): shared by every user."""
        return Workspace(self.top).folder("models")

    @property
    def runs(self) -> Path:
        """Training runs (their checkpoints are models the Chat tab offers)."""
        return self.folder("runs")

    @property
    def evals(self) -> Path:
        """Evaluation runs (one folder per protocol run: items.jsonl, summary.json)."""
        return self.folder("evals")

    @property
    def chat_sessions(self) -> Path:
        """Each browser session's conversation, kept so that a page reload picks it up again."""
        return self.folder("chat", "sessions")

    @property
    def chat_log(self) -> Path:
        """Finished exchanges and votes of the Chat tab, one JSON line each."""
        return self.folder("chat") / "log.jsonl"
