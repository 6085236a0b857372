"""Loaded model pairs shared by every session of the studio (weights are read-only; conversations and keys
are per-session), and the list of model specs a workspace offers."""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
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
        self.policy = policy  # None: the process's
        self._pairs: OrderedDict[tuple, SidePair] = OrderedDict()
        self._lock = threading.Lock()

    def as_user(self, policy: AccessPolicy) -> ModelPool:
        """The same pool (its loaded models, its lock) resolving specs as a user of `policy` names them."""
        view = copy.copy(self)
        view.policy = policy
        return view

    def pair(self, left: str, right: str, options: LoadOptions | tuple[LoadOptions, LoadOptions] | None = None,
             api_key: str | None = None) -> SidePair:
        """`options`: both sides', or each side's (trust_remote_code is asked for one model, not for whatever
        the other side is).  Specs are checked and resolved under the pool's policy before the cache is looked
        at: one user's "runs/x/model" is never another's, and a loaded model is handed only to a user who may
        load it."""
        sides = options if isinstance(options, tuple) else (options or LoadOptions(),) * 2
        identity = tuple(self._identity(text) for text in (left, right))
        key = (*identity, *((o.device, o.dtype, o.trust_remote_code) for o in sides))
        with self._lock:
            if None not in identity and key in self._pairs:
                self._pairs.move_to_end(key)
                pair = self._pairs[key]
            else:
                pair = load_pair(left, right, sides, self.policy)
                if not any(side.kind == "failed" for side in pair.sides):  # a failure is tried again next time
                    self._pairs[key] = pair
                    while len(self._pairs) > self.capacity:
                        self._pairs.popitem(last=False)
                _warm_up(pair)
        return pair.bind(api_key)

    def _identity(self, text: str) -> str | None:
        """What a spec loads, as the pool's user may name it (None: a spec that fails; that side says why)."""
        from ..errors import UserError
        from .specs import parse_spec

        try:
            return parse_spec(text.strip(), self.policy).resolved
        except UserError:
            return None


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


def list_model_specs(relative: Path | Callable[[Path], str], *folders: Path) -> list[str]:
    """Model folders found (one level down) in the given folders, written as the viewer types them (`relative`: a
    folder they are relative to, such as the workspace, or a function such as a workspace view's `relative`: the
    page never shows server paths), then the built-in tiny specs."""
    shown = relative if callable(relative) else (lambda path: str(path.relative_to(relative)))
    found = []
    for folder in folders:
        if folder.is_dir():
            for child in sorted(folder.iterdir()):
                if child.is_dir() and is_model_folder(child):
                    found.append(child)
                elif child.is_dir():  # runs/<name>/<checkpoint or final>
                    found += [p for p in sorted(child.iterdir()) if p.is_dir() and is_model_folder(p)]
    return [shown(p) for p in found] + TINY_SPECS
