"""Q-Instruct Studio: low-level visual instruction tuning, from corrupted images to evaluated models."""

__version__ = "0.1.0"
