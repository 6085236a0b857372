"""Registry of corruptions: one decorator registers a kernel, `get_corruption` / `list_corruptions` read it.

A kernel takes an RGB ``uint8`` array of shape (H, W, 3), a severity in 1..5 and an integer seed, and returns
an array of the same shape (float in [0, 255] or uint8).  Kernels own their random generators, created from the
seed, so they never touch NumPy's global state and two threads never disturb each other.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Kernel = Callable[[np.ndarray, int, int], np.ndarray]

SEVERITIES = (1, 2, 3, 4, 5)
GROUPS = ("noise", "blur", "weather", "digital")


@dataclass(frozen=True)
class Corruption:
    name: str
    kernel: Kernel
    group: str  # noise | blur | weather | digital, as in Hendrycks & Dietterich's benchmark
    common: bool  # one of the paper's 15 common corruptions (False: the 4 extra "validation" ones)
    label: str  # human wording, also used by the synthetic feedback writer

    def __call__(self, image: np.ndarray, severity: int, seed: int) -> np.ndarray:
        return self.kernel(image, severity, seed)


_REGISTRY: dict[str, Corruption] = {}


def register(name: str, *, group: str, common: bool, label: str) -> Callable[[Kernel], Kernel]:
    if group not in GROUPS:
        raise ValueError(f"unknown corruption group {group!r}")

    def decorate(kernel: Kernel) -> Kernel:
        if name in _REGISTRY:
            raise ValueError(f"corruption {name!r} registered twice")
        _REGISTRY[name] = Corruption(name=name, kernel=kernel, group=group, common=common, label=label)
        return kernel

    return decorate


def get_corruption(name: str) -> Corruption:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise KeyError(f"unknown corruption {name!r}; known: {known}") from None


def list_corruptions(subset: str = "all") -> list[str]:
    """Names in the paper's order. subset: all | common (the 15) | extra (the 4) | a group name."""
    if subset == "all":  # the 15 first, then the 4 extra, each in the paper's order
        return list_corruptions("common") + list_corruptions("extra")
    if subset == "common":
        return [n for n, c in _REGISTRY.items() if c.common]
    if subset == "extra":
        return [n for n, c in _REGISTRY.items() if not c.common]
    if subset in GROUPS:
        return [n for n, c in _REGISTRY.items() if c.group == subset]
    raise ValueError(f"unknown subset {subset!r}; use all, common, extra or one of {', '.join(GROUPS)}")
