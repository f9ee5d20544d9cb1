"""``antifake serve`` (the lookup service) and ``antifake apikey`` (its API keys)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from antifake.cli._common import (
    EXIT_OK,
    AddParser,
    CLIError,
    Parents,
    _close,
    _db_path,
    _emit_json,
    _keyring,
    _open_registry,
    _out,
    _Parser,
)


def _apikey_path(args: argparse.Namespace) -> str:
    from antifake.service.apikeys import default_path

    if args.apikeys:
        return str(args.apikeys)
    db = _db_path(args, must_exist=False)
    path = default_path(db)
    if path is None:
        raise CLIError(f"a database URL keeps no API key file: give --apikeys FILE ({db[:40]})")
    return path


def cmd_serve(args: argparse.Namespace) -> int:
    from antifake.service import Limit, Limits, create_app
    from antifake.service.apikeys import ApiKeyStore, default_path
    from antifake.service.serve import serve

    if not args.client_rate >= 0:
        raise CLIError("--client-rate must be a number >= 0")
    limits = Limits(client=None, bulk_codes=None) if args.client_rate == 0 else \
        Limits(client=Limit(burst=10 * args.client_rate, per_day=86400 * args.client_rate))

    ring = _keyring(args)
    if args.db:  # open it once here: a clear error before any worker starts
        _close(_open_registry(args, "serve", ring=ring))
    if args.workers < 1:
        raise CLIError("--workers must be at least 1")
    keys_path = args.apikeys or (default_path(args.db) if args.db else None)

    def make_app() -> Any:
        reg = _open_registry(args, "serve", ring=ring) if args.db else None
        store = ApiKeyStore(keys_path) if keys_path and Path(keys_path).exists() else None
        return create_app(registry=reg, keyring=ring, base=args.base, apikey_store=store,
                          proxy_headers=args.proxy_headers, limits=limits)

    serve(make_app, args.host, args.port, workers=args.workers,
          log_level="info" if args.debug else "warning")
    return EXIT_OK


def cmd_apikey(args: argparse.Namespace) -> int:
    from antifake.service.apikeys import ApiKeyStore

    store = ApiKeyStore(_apikey_path(args))
    try:
        if args.apikey_cmd == "create":
            key = store.create(args.name)
            if args.json:
                _emit_json({"name": args.name, "key": key, "file": str(store.path)})
            else:
                print(key)
                print(f"API key of {args.name} (stored hashed in {store.path}; shown once)",
                      file=sys.stderr)
        elif args.apikey_cmd == "revoke":
            if not store.revoke(args.name):
                raise CLIError(f"no active API key named {args.name!r}")
            _out(args, f"revoked the API key of {args.name}")
        else:
            rows = store.names()
            if args.json:
                _emit_json({"keys": [{"name": n, "created_at": c, "revoked_at": r}
                                     for n, c, r in rows]})
            for n, c, r in rows:
                if not args.json:
                    print(f"{n}\t{c}\t{'revoked ' + r if r else 'active'}")
    finally:
        store.close()
    return EXIT_OK


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add this module's commands to the `antifake` parser."""
    common, ring, dbp = parents.common, parents.ring, parents.dbp
    s = add("serve", "run the lookup service (consumer page + JSON API; needs antifake[service])",
            [ring])
    s.add_argument("--db", metavar="PATH_OR_URL", default=None,
                   help="registry (SQLite path or postgresql:// URL); without it, verdicts only")
    s.add_argument("--base", required=True,
                   help="the base URL printed in the QR codes, e.g. https://xacthuc.example.vn/abc")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="port (0: a free one; default 8080)")
    s.add_argument("--apikeys", metavar="FILE", default=None,
                   help="API key file (default: the registry path + .apikeys)")
    s.add_argument("--proxy-headers", action="store_true",
                   help="client address from X-Forwarded-For (only behind your own proxy)")
    s.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes sharing the port (default 1)")
    s.add_argument("--client-rate", type=float, default=60.0, metavar="N",
                   help="requests per second per client, bursts of 10 s (default 60; 0: no "
                        "per-client limits, e.g. behind a proxy that limits; PIN limits stay)")
    s.set_defaults(func=cmd_serve)

    s = add("apikey", "API keys for the marketplace and inspector endpoints", [])
    asub = s.add_subparsers(dest="apikey_cmd", metavar="ACTION", parser_class=_Parser,
                            required=True)
    for name, help_ in (("create", "create a key for client NAME and print it once"),
                        ("revoke", "revoke the key of client NAME"),
                        ("list", "list clients and key states")):
        t = asub.add_parser(name, help=help_, parents=[common, dbp])
        if name != "list":
            t.add_argument("name", metavar="NAME", help="client name, e.g. shopee-vn")
        t.add_argument("--apikeys", metavar="FILE", default=None,
                       help="API key file (default: the registry path + .apikeys)")
    s.set_defaults(func=cmd_apikey)
