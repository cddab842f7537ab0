"""The version of specblur: here and nowhere else (``pyproject.toml`` reads it from here)."""

__version__ = "0.1.0"
