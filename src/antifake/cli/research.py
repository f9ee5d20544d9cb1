"""``antifake research``: the research figures and tables (the work is in antifake.research.cli)."""

from __future__ import annotations

import argparse

from antifake.cli._common import (
    AddParser,
    Parents,
)


def cmd_research(args: argparse.Namespace) -> int:
    from antifake.research.cli import run_command

    return run_command(args)


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add this module's commands to the `antifake` parser."""
    from antifake.research.cli import add_arguments as research_arguments

    s = add("research", "regenerate the research figures and tables: research run --out DIR "
            "[--scale N] [--seed S]")
    research_arguments(s)
    s.set_defaults(func=cmd_research)
