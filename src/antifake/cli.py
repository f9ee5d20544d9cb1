"""The ``antifake`` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("usage: antifake demo [--out DIR] [-n N]")
        return 0
    if args[0] == "demo":
        from antifake import demo

        return demo.main(args[1:])
    print(f"antifake: unknown command {args[0]!r}; try 'antifake --help'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
