"""``antifake keyring``: a verifier's keyring file (trusted public keys, batch manifests and
key revocations) kept between runs, for ``--keyring FILE`` of the other commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import antifake as af
from antifake.cli._common import (
    EXIT_FILE,
    EXIT_OK,
    AddParser,
    CLIError,
    Parents,
    _add_manifests,
    _emit_json,
    _iso,
    _load_public,
    _out,
)


def _open(path: str, create: bool) -> af.Keyring:
    if Path(path).exists():
        return af.Keyring.load(path)
    if not create:
        raise CLIError(f"keyring file {path} not found: create it with "
                       f"'antifake keyring add {path} --pubkey ISSUER.pub.json'", EXIT_FILE)
    if not Path(path).parent.is_dir():
        raise CLIError(f"directory {Path(path).parent} does not exist", EXIT_FILE)
    return af.Keyring()


def _rows(ring: af.Keyring) -> list[dict[str, Any]]:
    return [{"issuer": st.public.issuer, "key_id": st.public.key_id,
             "fingerprint": st.public.fingerprint, "valid_from": _iso(st.public.valid_from),
             "valid_until": _iso(st.public.valid_until), "revoked_at": _iso(st.revoked_at),
             "manifests": sorted(st.manifests)}
            for st in ring.states()]


def _show(args: argparse.Namespace, ring: af.Keyring, path: str) -> None:
    rows = _rows(ring)
    if args.json:
        _emit_json({"keyring": path, "keys": rows})
        return
    _out(args, f"{path}: {len(rows)} trusted key{'s' if len(rows) != 1 else ''}")
    for r in rows:
        state = f"REVOKED from {r['revoked_at']}" if r["revoked_at"] else "trusted"
        _out(args, f"  {r['issuer']} key {r['key_id']} ({r['fingerprint']}): {state}; valid "
                   f"{r['valid_from']} .. {r['valid_until']}; {len(r['manifests'])} "
                   f"manifest{'s' if len(r['manifests']) != 1 else ''}")


def cmd_keyring_add(args: argparse.Namespace) -> int:
    ring = _open(args.file, create=True)
    for f in args.pubkey or []:
        ring.add(_load_public(f))
    _add_manifests(ring, args.manifest or [])
    if len(ring) == 0:
        raise CLIError("nothing to keep: give --pubkey ISSUER.pub.json (and --manifest FILE)")
    ring.save(args.file)
    _show(args, ring, args.file)
    return EXIT_OK


def cmd_keyring_revoke(args: argparse.Namespace) -> int:
    ring = _open(args.file, create=False)
    ring.revoke(args.key_id, args.at, issuer=args.issuer)
    ring.save(args.file)
    _show(args, ring, args.file)
    return EXIT_OK


def cmd_keyring_show(args: argparse.Namespace) -> int:
    _show(args, _open(args.file, create=False), args.file)
    return EXIT_OK


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add this module's commands to the `antifake` parser."""
    s = add("keyring", "a verifier's keyring file: trusted keys, manifests, revocations")
    sub = s.add_subparsers(dest="keyring_command", metavar="ACTION", required=True,
                           parser_class=type(s))
    common = [parents.common]

    a = sub.add_parser("add", parents=common, help="trust public keys and hold manifests "
                       "(creates the file, mode 0600)")
    a.add_argument("file", help="keyring file")
    a.add_argument("--pubkey", action="append", metavar="FILE",
                   help="issuer public key (.pub.json); repeatable")
    a.add_argument("--manifest", action="append", metavar="FILE",
                   help="batch manifest signed by a trusted key; repeatable")
    a.set_defaults(func=cmd_keyring_add)

    r = sub.add_parser("revoke", parents=common,
                       help="revoke a key: its stamps verify only through manifests held "
                            "before the revocation")
    r.add_argument("file", help="keyring file")
    r.add_argument("key_id", type=int, help="the key's 16-bit key id")
    r.add_argument("--at", default=None, help="ISO 8601 time of the revocation (default now)")
    r.add_argument("--issuer", default=None, help="the issuer, when several share the key id")
    r.set_defaults(func=cmd_keyring_revoke)

    w = sub.add_parser("show", parents=common, help="list the keys, revocations and manifests")
    w.add_argument("file", help="keyring file")
    w.set_defaults(func=cmd_keyring_show)
