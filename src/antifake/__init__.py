"""antifake: anti-counterfeit electronic stamps."""

from antifake.errors import AntifakeError

__all__ = ["AntifakeError"]
__version__ = "0.1.0"
