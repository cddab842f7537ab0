"""specblur: blur a time-frequency region of a sound through a VQ-VAE and a prior over its codes.

Importing this package is cheap: torch and the other heavy modules load only when a function that
needs them runs.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
