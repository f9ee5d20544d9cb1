"""The ``research`` command line (``antifake research ...`` and ``python -m antifake.research``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["add_arguments", "main", "run_command"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``research run``."""
    sub = p.add_subparsers(dest="research_command", metavar="SUBCOMMAND")
    r = sub.add_parser("run", help="regenerate every figure and table (docs/research.md)")
    r.add_argument("--out", required=True, help="output directory (created)")
    r.add_argument("--scale", type=float, default=1.0,
                   help="size factor: 1 = 100,000 items per simulation and time/memory "
                        "sizes up to 1,000,000 (default 1)")
    r.add_argument("--seed", type=int, default=0,
                   help="calibration seed; the held-out seed is SEED + 1 (default 0)")
    r.add_argument("--no-perf", action="store_true", help="skip the time and memory sweep")
    r.add_argument("--quiet", action="store_true", help="no progress display")


def run_command(args: argparse.Namespace) -> int:
    """Run ``research run`` with parsed arguments; prints the headline numbers."""
    if getattr(args, "research_command", None) != "run":
        print("usage: antifake research run --out DIR [--scale N] [--seed S]", file=sys.stderr)
        return 2
    try:
        from antifake.research.pipeline import run
    except ImportError as exc:  # pragma: no cover - the optional extra is missing
        print(f"antifake research needs the 'research' extra "
              f"(pip install 'antifake[research]'): {exc}", file=sys.stderr)
        return 2
    if not args.scale > 0:
        print("--scale must be > 0", file=sys.stderr)
        return 2
    run(args.out, scale=args.scale, seed=args.seed, progress=not args.quiet,
        perf=not args.no_perf, log=print)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m antifake.research",
                                description="Regenerate the research figures and tables.")
    add_arguments(p)
    return run_command(p.parse_args(argv))
