"""Q-Instruct Studio: low-level visual instruction tuning, from corrupted images to evaluated models."""

__version__ = "0.1.0"
__all__ = ["__version__", "create_scorer", "list_scorers"]


def __getattr__(name: str):
    """`from qinstruct import create_scorer, list_scorers` without importing torch for every `qinstruct --help`."""
    if name in ("create_scorer", "list_scorers"):
        from . import scorer

        return getattr(scorer, name)
    raise AttributeError(f"module 'qinstruct' has no attribute {name!r}")
