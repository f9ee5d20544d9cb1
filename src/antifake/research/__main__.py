"""``python -m antifake.research run --out DIR [--scale N] [--seed S]``."""

from __future__ import annotations

import sys

from antifake.research.cli import main

if __name__ == "__main__":
    sys.exit(main())
