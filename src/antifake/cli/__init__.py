"""The ``antifake`` command: keys, issuance, print files, QR images, verification, trace.

Run ``antifake --help`` or ``antifake COMMAND --help``. Every command takes ``--json`` (one JSON
document on stdout, also for errors) and ``--debug`` (tracebacks instead of one-line errors).

Exit codes (also in ``antifake --help``):

====  ===================================================================================
0     ok: every code authentic, no alert at or above ``--min-score``, listing accepted
1     some codes are not authentic, alerts were found, or the listing was refused
2     usage or input error: bad arguments, unreadable input data (an image with no QR code,
      a CSV without the column), a refused request, a command not available yet
3     key or file error: key file missing, corrupted or sealed with another passphrase;
      public key, manifest, batch or database file unreadable or invalid; output not writable
4     internal error: a bug; rerun with ``--debug`` and report the traceback
====  ===================================================================================

Passphrases of sealed key files are read from ``--passphrase-file FILE``, else from the
environment variable ``ANTIFAKE_PASSPHRASE``, else asked for on the terminal; never from the
command line. No command prints a secret: PINs go only to the print file (mode 0600).

The commands live in one module per group (`keys`, `issue` with `verify`, `registry`,
`service`, `log` with `evidence`, `record`, `qr`, `misc` with `bench` and `demo`, `research`),
each adding its subcommands with ``add_parsers``; the helpers they share are in `_common`.
This module assembles the parser and runs ``main``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import antifake as af
from antifake.cli import issue, keyring, keys, log, misc, qr, record, registry, research, service
from antifake.cli._common import (
    DB_ENV,
    EXIT_BUG,
    EXIT_FILE,
    EXIT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    PASSPHRASE_ENV,
    CLIError,
    Parents,
    _emit_json,
    _Parser,
)
from antifake.cli.misc import cmd_demo

__all__ = ["main", "CLIError", "EXIT_OK", "EXIT_FOUND", "EXIT_USAGE", "EXIT_FILE", "EXIT_BUG"]

EPILOG = """\
exit codes:
  0  ok: every code authentic, no alert found, listing accepted
  1  some codes not authentic, alerts found, or listing refused
  2  usage or input error (bad arguments or input data; command not available yet)
  3  key or file error (key file, passphrase, public key, manifest, batch, database, output)
  4  internal error (a bug: rerun with --debug and report it)

passphrases: --passphrase-file FILE, else $ANTIFAKE_PASSPHRASE, else a terminal prompt.
first steps:
  antifake keygen --issuer VN-QLTT-01 -o issuer.key
  antifake issue --key issuer.key -n 1000 --base https://verify.example.vn/s --out-dir out
  antifake verify --pubkey issuer.pub.json --manifest out/batch-*.manifest --file codes.txt
"""


def _parser() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="one JSON document on stdout (errors too)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks instead of one-line errors")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars")

    pw = _Parser(add_help=False)
    pw.add_argument("--passphrase-file", metavar="FILE",
                    help=f"first line is the key file's passphrase (else ${PASSPHRASE_ENV}, "
                         "else a prompt)")

    ring = _Parser(add_help=False, parents=[pw])
    g = ring.add_argument_group("trusted keys")
    g.add_argument("--pubkey", action="append", metavar="FILE",
                   help="issuer public key (.pub.json); repeatable")
    g.add_argument("--key", action="append", metavar="FILE",
                   help="issuer secret key file: also checks stamp numbers and PINs; repeatable")
    g.add_argument("--manifest", action="append", metavar="FILE",
                   help="batch manifest: confirms membership (NOT_ISSUED otherwise); repeatable")
    g.add_argument("--keyring", metavar="FILE", default=None,
                   help="keyring file (antifake keyring): trusted keys, manifests and "
                        "revocations kept between runs")

    dbp = _Parser(add_help=False)
    dbp.add_argument("--db", metavar="FILE", default=None,
                     help=f"registry database (default ${DB_ENV})")

    threads = _Parser(add_help=False)
    threads.add_argument("--threads", type=int, default=None, metavar="N",
                         help="native threads (default: every core)")

    p = _Parser(prog="antifake", description="Anti-counterfeit electronic stamps: keys, "
                "issuance, QR images, verification and trace.", epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter, parents=[])
    p.add_argument("--json", action="store_true", default=False,
                   help="one JSON document on stdout (errors too)")
    p.add_argument("--debug", action="store_true", default=False,
                   help="show tracebacks instead of one-line errors")
    p.add_argument("-q", "--quiet", action="store_true", default=False, help="no progress bars")
    p.add_argument("--version", action="version", version=f"antifake {af.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help_: str, parents: Sequence[argparse.ArgumentParser] = (),
            **kw: Any) -> _Parser:
        sp: _Parser = sub.add_parser(name, help=help_, description=help_,
                                     parents=[common, *parents], **kw)  # type: ignore[list-item]
        return sp

    shared = Parents(common=common, pw=pw, ring=ring, dbp=dbp, threads=threads)
    for module in (keys, keyring, issue, registry, service, log, record, qr, misc, research):
        module.add_parsers(add, shared)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (see the module documentation)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    want_json = "--json" in args_list
    debug = "--debug" in args_list
    try:
        parser = _parser()
        args, extra = parser.parse_known_args(args_list)
        if args.command is None:  # bare `antifake`: what it can do, and a usage exit code
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        if args.command == "demo":
            return cmd_demo(args, [a for a in extra if a not in ("--json", "--debug")])
        if extra:
            raise CLIError(f"unrecognized arguments: {' '.join(extra)} "
                           f"(see 'antifake {args.command} --help')")
        return int(args.func(args))
    except SystemExit as e:  # --help, --version
        return int(e.code or 0) if isinstance(e.code, int) or e.code is None else EXIT_USAGE
    except KeyboardInterrupt:
        print("antifake: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `antifake ... | head`: the reader left, nothing more to say
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:
        if debug:
            raise
        code, msg = _classify(e)
        print(f"antifake: error: {msg}", file=sys.stderr)
        if want_json:
            _emit_json({"error": msg, "exit_code": code})
        return code


def _classify(e: BaseException) -> tuple[int, str]:
    """Exit code and one line for an exception (never a secret: antifake's messages hold
    none, and only filenames are taken from OS errors)."""
    if isinstance(e, CLIError):
        return e.code, str(e)
    if isinstance(e, af.WrongPassphrase):
        return EXIT_FILE, f"{e}: check --passphrase-file or ${PASSPHRASE_ENV}"
    if isinstance(e, af.InvalidKey | af.ManifestError):
        return EXIT_FILE, str(e)
    if isinstance(e, OSError):
        name = e.filename if e.filename is not None else ""
        what = e.strerror or type(e).__name__
        return EXIT_FILE, f"{name}: {what}" if name else what
    if isinstance(e, af.AntifakeError):  # FormatError, IssueError, EPCISError, RegistryError
        return EXIT_USAGE, str(e)
    if isinstance(e, ImportError):
        hint = ("" if "pip install" in str(e)
                else " (install the extras: pip install 'antifake[cli]')")
        return EXIT_USAGE, f"{e}{hint}"
    if isinstance(e, ValueError):
        return EXIT_USAGE, str(e)
    return EXIT_BUG, (f"internal error ({type(e).__name__}: {str(e)[:200]}); rerun with --debug "
                      "and report it")

