"""Check every listing of a marketplace export in one call.

    python examples/marketplace_bulk_check.py listings.csv --column code \
        --pubkey issuer.pub.json --manifest batch-1-0.manifest --out checked.csv

Reads a CSV of listings (any columns; one of them holds the stamp code a seller entered or
the QR text of the photo), verifies all codes with one ``antifake.verify_many`` call (native,
millions per second), and writes the same CSV with two more columns: ``status`` (an
``antifake.Status`` name) and ``authentic`` (1/0). Prints the counts per status. Exit code 0
when every listing's code is authentic, 1 otherwise (the same convention as ``antifake
verify``), 2 for a usage or input error (a missing or unreadable file: one line, no traceback).
The output file gets the permissions of the input, never wider: a print file of mode 0600
(it holds PINs) gives a 0600 output.

A code that is authentic but listed by a seller who never held the item is the registry's
business (``Registry.check_listing``): this script answers the first question, "is the code
real at all?", for a whole export at once.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

import antifake as af


def check(rows: list[dict[str, str]], column: str, ring: af.Keyring) -> af.VerifyResult:
    codes = [(r.get(column) or "").strip() for r in rows]
    return af.verify_many(codes, ring)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("listings", help="CSV with a header row")
    p.add_argument("--column", default="code", help="column holding the code (default: code)")
    p.add_argument("--pubkey", action="append", default=[], help="issuer .pub.json (repeat)")
    p.add_argument("--manifest", action="append", default=[], help="batch manifest (repeat)")
    p.add_argument("--out", default=None, help="output CSV (default: LISTINGS-checked.csv)")
    a = p.parse_args(argv)
    if not a.pubkey:
        p.error("give at least one --pubkey")
    try:
        ring = af.Keyring()
        for f in a.pubkey:
            with open(f, "rb") as fh:
                ring.add(af.IssuerPublicKey.from_json(fh.read()))
        for f in a.manifest:
            ring.add_manifest(af.Manifest.load(f))
        with open(a.listings, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = list(reader.fieldnames or [])
            rows = list(reader)
        mode = os.stat(a.listings).st_mode & 0o666
    except (OSError, UnicodeDecodeError, csv.Error, af.AntifakeError) as e:
        where = getattr(e, "filename", None)
        what = getattr(e, "strerror", None) or str(e)
        print(f"error: {where + ': ' if where else ''}{what}", file=sys.stderr)
        return 2
    if a.column not in fields:
        print(f"error: {a.listings} has no column {a.column!r} (columns: {', '.join(fields)})",
              file=sys.stderr)
        return 2
    res = check(rows, a.column, ring)
    names = [s.name for s in af.Status]
    out = a.out or a.listings.removesuffix(".csv") + "-checked.csv"
    try:
        # never wider than what was read: the input may hold PINs (a 0600 print file)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(fd, mode)
        with open(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=[*fields, "status", "authentic"])
            w.writeheader()
            for row, st in zip(rows, res.status.tolist(), strict=True):
                w.writerow({**row, "status": names[st],
                            "authentic": int(st == af.Status.AUTHENTIC)})
    except OSError as e:
        print(f"error: {out}: {e.strerror}", file=sys.stderr)
        return 2
    counts = res.counts()
    bad = len(rows) - counts.get("AUTHENTIC", 0)
    print(f"{len(rows)} listings checked: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
    print(f"{bad} listings carry a code that is not authentic; details in {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
