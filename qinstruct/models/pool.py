"""Loaded model pairs shared by every session of the studio (weights are read-only; conversations and keys
are per-session), and the list of model specs a workspace offers."""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from ..access import AccessPolicy
from .families import FAMILIES
from .pair import SidePair, load_pair
from .types import LoadOptions

TINY_SPECS = [f"tiny:{family}" for family in FAMILIES]


class ModelPool:
    """Keeps the last `capacity` pairs loaded; one lock serialises loading (two sessions asking for the same
    7B model must not load it twice).  Specs resolve under the pool's access policy.  The pool never holds an
    API key: `pair(..., api_key)` hands back a copy whose remote sides carry that request's key."""

    def __init__(self, capacity: int = 2, policy: AccessPolicy | None = None):
        self.capacity = capacity
        self.policy = policy
        self._pairs: OrderedDict[tuple, SidePair] = OrderedDict()
        self._lock = threading.Lock()

    def pair(self, left: str, right: str, options: LoadOptions | None = None, api_key: str | None = None) -> SidePair:
        options = options or LoadOptions()
        key = (left.strip(), right.strip(), options.device, options.dtype, options.trust_remote_code)
        with self._lock:
            if key in self._pairs:
                self._pairs.move_to_end(key)
                pair = self._pairs[key]
            else:
                pair = load_pair(left, right, options, self.policy)
                if not any(side.kind == "failed" for side in pair.sides):  # a failure is tried again next time
                    self._pairs[key] = pair
                    while len(self._pairs) > self.capacity:
                        self._pairs.popitem(last=False)
                _warm_up(pair)
        return pair.bind(api_key)


def _warm_up(pair: SidePair) -> None:
    """On CUDA, compile and capture the decoders now ("first call hidden at load")."""
    from .chat import warm_up
    from .types import ADAPTER_NAME, BASE_ROW

    if pair.shared:
        warm_up(pair.left, (2,), [BASE_ROW, ADAPTER_NAME])
        return
    for side in pair.sides:
        side.warm_up()


def is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() or (path / "adapter_config.json").is_file()


def list_model_specs(root: Path, *folders: Path) -> list[str]:
    """Model folders found (one level down) in the given folders, written relative to `root` (the workspace:
    the page never shows server paths), then the built-in tiny specs."""
    found = []
    for folder in folders:
        if folder.is_dir():
            for child in sorted(folder.iterdir()):
                if child.is_dir() and is_model_folder(child):
                    found.append(child)
                elif child.is_dir():  # runs/<name>/<checkpoint or final>
                    found += [p for p in sorted(child.iterdir()) if p.is_dir() and is_model_folder(p)]
    return [str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in found] + TINY_SPECS
