"""``python -m antifake.cli``: the ``antifake`` command."""

from antifake.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
