"""Printing a benchmark module's summary table past pytest's output capture."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def print_uncaptured(request: Any, show: Callable[[], None]) -> None:
    """Run ``show`` (which prints) with pytest's capture suspended, so ``-q`` runs show it."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        show()
        return
    with capman.global_and_fixture_disabled():
        show()
