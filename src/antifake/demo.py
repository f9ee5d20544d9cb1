"""The end-to-end demo behind ``antifake demo``: issue, print, verify, reject, trace.

Everything it writes goes to one output directory, so a newcomer can open the files.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path

import antifake as af
from antifake import codes as C

BASE = "https://xacthuc.example.vn/s"


def _say(out: Callable[[str], None], title: str) -> None:
    out("")
    out(f"== {title}")


def run(outdir: str | Path = "antifake-demo", n: int = 10_000,
        out: Callable[[str], None] = print) -> dict[str, int]:
    """Run the demo; returns the verification counts it printed (used by the tests)."""
    d = Path(outdir)
    d.mkdir(parents=True, exist_ok=True)
    results: dict[str, int] = {}

    _say(out, "1. The issuer generates a key (Ed25519 + MAC secret) and saves it sealed")
    key = af.IssuerKey.generate("VN-QLTT-01")
    key.save(d / "issuer.key", passphrase=b"demo passphrase", kdf="interactive")
    (d / "issuer.pub.json").write_text(key.public.to_json())
    out(f"   {key!r}")
    out(f"   wrote {d / 'issuer.key'} (0600, sealed) and {d / 'issuer.pub.json'} (public)")

    _say(out, f"2. It issues a batch of {n:,} stamps for one product")
    t = time.perf_counter()
    batch = af.issue(key, n, product=af.Product(gtin="09521234543213", lot="L23",
                                                expiry="2027-12-31"))
    out(f"   {batch!r} in {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    urls, numbers, pins = batch.urls(BASE), batch.numbers(), batch.pins()
    with open(d / "print-file.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "qr_url", "stamp_number", "pin"])
        for i in range(n):
            w.writerow([i, urls[i], numbers[i], pins[i]])
    batch.manifest.save(d / "batch.manifest")
    batch.save(d / "batch.npz")
    out(f"   print file {d / 'print-file.csv'} written in {time.perf_counter() - t:.2f} s")
    out(f"   QR payload   : {urls[0]}  ({len(urls[0])} chars)")
    out(f"   stamp number : {numbers[0]}")
    out(f"   scratch PIN  : {pins[0]}")

    _say(out, "3. A consumer app verifies offline with the public key and the batch manifest")
    app_ring = af.Keyring([af.IssuerPublicKey.from_json((d / "issuer.pub.json").read_text())])
    app_ring.add_manifest(af.Manifest.load(d / "batch.manifest"))
    t = time.perf_counter()
    res = af.verify_many(urls, app_ring)
    out(f"   verify_many over {n:,} QR URLs: {res.counts()} in {time.perf_counter() - t:.3f} s")
    results.update(res.counts())
    v = af.verify(urls[0].upper().replace("HTTPS://", ""), app_ring)
    out(f"   upper-cased, no scheme: {v.status.name}: {v.reason}")

    _say(out, "4. The issuer's hotline checks typed stamp numbers and PINs (needs the secret)")
    service = af.Keyring([af.IssuerKey.load(d / "issuer.key", passphrase=b"demo passphrase")])
    service.add_manifest(batch.manifest)
    typed = numbers[1].lower().replace("-", " ").replace("1", "l")
    out(f"   typed {typed!r}: {af.verify(typed, service).status.name}")
    out(f"   PIN {pins[1]!r}: {af.verify_pin(numbers[1], pins[1], service).status.name}")
    out(f"   numbers on the public app: {af.verify(numbers[1], app_ring).status.name} "
        "(only the issuer's service can check numbers)")

    _say(out, "5. Tampered and forged codes are rejected, each with its reason")
    head, _, code = urls[2].partition("&s=")
    flipped = code[:40] + ("0" if code[40] != "0" else "1") + code[41:]
    forged_number = C.format_number(C.encode_number(key.key_id, batch.batch_id, 5, b"\0" * 5))
    typo = numbers[3][:6] + ("0" if numbers[3][6] != "0" else "1") + numbers[3][7:]
    stranger = af.IssuerKey.generate("COUNTERFEITER")
    fake = af.issue(stranger, 1).urls(BASE)[0]
    cases = [
        ("one symbol changed in the QR", f"{head}&s={flipped}"),
        ("lot changed in the URL", urls[2].replace("/10/L23/", "/10/L99/")),
        ("forged stamp number", forged_number),
        ("typo in a stamp number", typo),
        ("code from an unknown issuer", fake),
        ("random text", "hello world"),
    ]
    for label, text in cases:
        verdict = af.verify(text, service)
        out(f"   {label:30s} -> {verdict.status.name}: {verdict.reason}")
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="antifake demo", description=__doc__)
    p.add_argument("--out", default="antifake-demo", help="output directory")
    p.add_argument("-n", type=int, default=10_000, help="stamps to issue")
    a = p.parse_args(argv)
    run(a.out, a.n)
    return 0
