"""``antifake keygen`` and ``antifake pubkey``: issuer key files and their public keys."""

from __future__ import annotations

import argparse
from pathlib import Path

import antifake as af
from antifake.cli._common import (
    EXIT_FILE,
    EXIT_OK,
    AddParser,
    CLIError,
    Parents,
    _emit_json,
    _iso,
    _key_file_info,
    _load_key,
    _load_public,
    _need_file,
    _new_output,
    _note,
    _out,
    _passphrase,
    _refuse_existing,
)


def cmd_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    pub_out = Path(args.pub_out) if args.pub_out else out.with_name(out.stem + ".pub.json")
    if out.exists() and not args.force:
        raise CLIError(f"{out} exists: losing a key file is not undoable; pick another -o or "
                       "add --force", EXIT_FILE)
    _refuse_existing(args, pub_out, "--pub-out")
    if not out.parent.is_dir():
        raise CLIError(f"directory {out.parent} does not exist", EXIT_FILE)
    key = af.IssuerKey.generate(args.issuer, key_id=args.key_id, valid_from=args.valid_from,
                                valid_until=args.valid_until)
    pw = None if args.no_passphrase else _passphrase(args, f"new key file {out}", confirm=True)
    key.save(out, passphrase=pw, kdf=args.kdf)
    with _new_output(args, pub_out, "--pub-out") as f:
        f.write(key.public.to_json() + "\n")
    pub = key.public
    res = {"key_file": str(out), "public_file": str(pub_out), "issuer": pub.issuer,
           "key_id": pub.key_id, "fingerprint": pub.fingerprint, "sealed": pw is not None,
           "valid_from": _iso(pub.valid_from), "valid_until": _iso(pub.valid_until)}
    if args.json:
        _emit_json(res)
        return EXIT_OK
    _out(args, f"key {pub.key_id} of issuer {pub.issuer} (fingerprint {pub.fingerprint})")
    _out(args, f"  secret key : {out} (mode 0600, "
               f"{'sealed with the passphrase' if pw else 'NOT sealed'})")
    _out(args, f"  public key : {pub_out} (give this to verifiers)")
    _out(args, f"  valid      : {_iso(pub.valid_from)} .. {_iso(pub.valid_until)}")
    if pw is None:
        _note(args, "warning: the key file is not sealed; keep it offline or re-create it "
                    "with a passphrase")
    return EXIT_OK


def cmd_pubkey(args: argparse.Namespace) -> int:
    p = _need_file(args.keyfile, "key file")
    info = _key_file_info(p)
    if info.get("format") == "antifake-issuer-public-key":
        pub = _load_public(p)
    else:
        pub = _load_key(args, p).key.public
    text = pub.to_json()
    if args.out:
        with _new_output(args, args.out, "-o") as f:
            f.write(text + "\n")
        _note(args, f"wrote {args.out}")
    if args.json:
        _emit_json(pub.to_dict())
    elif not args.out:
        print(text)
    return EXIT_OK


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add this module's commands to the `antifake` parser."""
    pw = parents.pw
    s = add("keygen", "generate an issuer key (sealed key file + public key JSON)", [pw])
    s.add_argument("--issuer", required=True, help="issuer id, e.g. VN-QLTT-01")
    s.add_argument("--key-id", type=int, default=None, help="16-bit key id (default random)")
    s.add_argument("-o", "--out", default="issuer.key", help="key file (default issuer.key)")
    s.add_argument("--pub-out", default=None,
                   help="public key file (default: KEYFILE's stem + .pub.json)")
    s.add_argument("--valid-from", default=None, help="ISO 8601 time (default now)")
    s.add_argument("--valid-until", default=None, help="ISO 8601 time (default +3 years)")
    s.add_argument("--kdf", default="moderate", choices=("interactive", "moderate", "sensitive"),
                   help="Argon2id strength for sealing (default moderate)")
    s.add_argument("--no-passphrase", action="store_true",
                   help="write the key file unsealed (not recommended)")
    s.add_argument("--force", action="store_true", help="overwrite an existing key file")
    s.set_defaults(func=cmd_keygen)

    s = add("pubkey", "print the public key JSON of a key file", [pw])
    s.add_argument("keyfile", help="issuer key file (or a .pub.json to pretty-print)")
    s.add_argument("-o", "--out", default=None, help="write it to a file as well")
    s.add_argument("--force", action="store_true", help="overwrite an existing output file")
    s.set_defaults(func=cmd_pubkey)
