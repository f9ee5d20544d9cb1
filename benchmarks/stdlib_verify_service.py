"""The baseline of benchmarks/test_bench_service.py: the stamp verification web service a user
writes with the standard library (formerly examples/verify_service.py; the lookup service,
`antifake serve`, replaces it).

    python benchmarks/stdlib_verify_service.py --pubkey issuer.pub.json \
        --manifest batch-1-0.manifest
    curl http://127.0.0.1:8080/v/HTTPS://XACTHUC.EXAMPLE.VN/ABC/1P5N0000...
    {"status": "AUTHENTIC", "ok": true, "reason": "genuine stamp issued by ...", "stamp": {...}}

``GET /v/<code>`` takes anything a scanner or a person produces: the QR URL (URL-encoded or
not, with or without scheme, upper-cased), the bare code, a GS1 Digital Link URL or a stamp
number (numbers need the issuer's secret key: ``--key``). ``GET /healthz`` answers
``{"ok": true}``. Every answer is JSON; a verdict is 200 whatever the status (the status field
says whether the stamp is genuine), a request that is not a verification is 400 or 404.

Only the standard library's ``http.server`` (threaded): nothing to install beyond antifake, and
the verification itself runs in native code (a verdict costs microseconds). It binds to
127.0.0.1 on purpose: put it behind the backend's reverse proxy (TLS, rate limits, access logs)
rather than on the Internet directly; for more traffic, the ``verdict()`` function below ports
to any WSGI/ASGI framework unchanged. ``--db`` adds the registry's statuses (decommissioned,
recalled, stolen, already claimed) when antifake has a registry.

``--port 0`` picks a free port; the first line printed on stdout is ``listening on URL``.
``--max-requests N`` stops after N requests (tests and smoke checks).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import antifake as af

MAX_CODE = 1024  # longer than any stamp form: refused without parsing


def load_keyring(pubkeys: list[str], keys: list[str], manifests: list[str]) -> af.Keyring:
    ring = af.Keyring()
    for p in pubkeys:
        with open(p, "rb") as f:
            ring.add(af.IssuerPublicKey.from_json(f.read()))
    passphrase = os.environ.get("ANTIFAKE_PASSPHRASE")
    for k in keys:
        ring.add(af.IssuerKey.load(k, passphrase=passphrase.encode() if passphrase else None))
    for m in manifests:
        ring.add_manifest(af.Manifest.load(m))
    return ring


def registry_class() -> Any:
    """``af.Registry`` (or ``antifake.registry.Registry`` before it is exported)."""
    import importlib

    return getattr(af, "Registry", None) or importlib.import_module(
        "antifake.registry").Registry


def verdict(code: str, ring: af.Keyring, registry: Any = None) -> dict[str, Any]:
    """The JSON answer for one scanned or typed code."""
    v = registry.verify(code) if registry is not None else af.verify(code, ring)
    out: dict[str, Any] = {"status": v.status.name, "ok": v.ok, "reason": v.reason,
                           "stamp": None}
    s = v.stamp
    if s is not None:
        out["stamp"] = {"issuer": s.issuer, "key_id": s.key_id, "batch_id": s.batch_id,
                        "index": s.index}
        if s.product is not None:
            out["stamp"].update(s.product.to_json())  # expiry as ISO 8601 YYYY-MM-DD
    return out


def make_handler(ring: af.Keyring, registry: Any = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "antifake-verify/1"
        protocol_version = "HTTP/1.1"

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.path
            if len(raw) > MAX_CODE + 8:
                self._send(400, {"error": "request too long to be a stamp code"})
                return
            parts = urlsplit(raw)
            if parts.path == "/healthz":
                self._send(200, {"ok": True})
                return
            if not parts.path.startswith("/v/"):
                self._send(404, {"error": "use GET /v/<code>"})
                return
            code = unquote(raw[3:])  # keep an unencoded GS1 URL's "?17=..&s=.." part
            if not code.strip():
                self._send(400, {"error": "no code after /v/"})
                return
            self._send(200, verdict(code, ring, registry))

        def log_message(self, fmt: str, *args: Any) -> None:
            if not self.server.quiet:  # type: ignore[attr-defined]
                sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pubkey", action="append", default=[], help="issuer .pub.json (repeat)")
    p.add_argument("--key", action="append", default=[],
                   help="issuer key file: also checks stamp numbers (passphrase from "
                        "$ANTIFAKE_PASSPHRASE)")
    p.add_argument("--manifest", action="append", default=[], help="batch manifest (repeat)")
    p.add_argument("--db", default=None, help="registry database (adds lifecycle statuses)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    p.add_argument("--max-requests", type=int, default=None, help="stop after N requests")
    p.add_argument("--quiet", action="store_true", help="no access log")
    a = p.parse_args(argv)
    ring = load_keyring(a.pubkey, a.key, a.manifest)
    if len(ring) == 0:
        p.error("give at least one --pubkey or --key")
    registry = None
    if a.db:
        registry = registry_class()(a.db, keyring=ring)
    server = ThreadingHTTPServer((a.host, a.port), make_handler(ring, registry))
    server.quiet = a.quiet  # type: ignore[attr-defined]
    # bounded runs wait for their last answers on close; a service does not wait for clients
    server.daemon_threads = a.max_requests is None
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        if a.max_requests is None:
            server.serve_forever()
        else:
            for _ in range(a.max_requests):
                server.handle_request()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if registry is not None:
            registry.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
