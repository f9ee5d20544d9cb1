"""Where the shared conformance data lives: ``ANTIFAKE_CONFORMANCE``, else ``../shared/conformance``
beside the repository (GS1's EPCIS 2.0 examples and the event-hash generator's examples)."""

from __future__ import annotations

import os
from pathlib import Path


def conformance_dir() -> Path:
    """The conformance directory (it may not exist outside this project's machines)."""
    override = os.environ.get("ANTIFAKE_CONFORMANCE")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared" / "conformance"
