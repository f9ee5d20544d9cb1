"""The end-to-end demo behind ``antifake demo``: issue, print, verify, reject, trace.

Everything it writes goes to one output directory, so a newcomer can open the files.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import antifake as af
from antifake import codes as C

BASE = "https://xacthuc.example.vn/s"


def _say(out: Callable[[str], None], title: str) -> None:
    out("")
    out(f"== {title}")


def run(outdir: str | Path | None = None, n: int = 10_000,
        out: Callable[[str], None] = print) -> dict[str, int]:
    """Run the demo in ``outdir`` (default: a new temporary folder, kept and named at the
    start); returns the verification counts it printed (used by the tests)."""
    if n < 4:
        raise af.IssueError("the demo needs at least 4 stamps")
    if outdir is None:
        import tempfile

        d = Path(tempfile.mkdtemp(prefix="antifake-demo-"))
    else:
        d = Path(outdir)
        d.mkdir(parents=True, exist_ok=True)
    out(f"The demo's files go to {d} (delete the folder when done).")
    results: dict[str, int] = {}

    _say(out, "1. The issuer generates a key (Ed25519 + MAC secret) and saves it sealed")
    key = af.IssuerKey.generate("VN-QLTT-01")
    key.save(d / "issuer.key", passphrase=b"demo passphrase", kdf="interactive")
    (d / "issuer.pub.json").write_text(key.public.to_json())
    out(f"   key {key.key_id} of issuer {key.issuer}, valid {key.public.valid_from:%Y-%m-%d} to "
        f"{key.public.valid_until:%Y-%m-%d}" if key.public.valid_until else
        f"   key {key.key_id} of issuer {key.issuer}")
    out(f"   wrote {d / 'issuer.key'} (0600, sealed) and {d / 'issuer.pub.json'} (public)")

    _say(out, f"2. It issues a batch of {n:,} stamps for one product")
    t = time.perf_counter()
    batch = af.issue(key, n, product=af.Product(gtin="09521234543213", lot="L23",
                                                expiry="2027-12-31"))
    p = batch.product
    assert p is not None
    out(f"   batch {batch.batch_id} of key {batch.key_id}: {len(batch):,} stamps of GTIN {p.gtin}, "
        f"lot {p.lot}, expiry {p.expiry:%d %B %Y}, in {time.perf_counter() - t:.2f} s")
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
    counts = ", ".join(f"{k} {v:,}" for k, v in res.counts().items())
    out(f"   verify_many over {n:,} QR URLs: {counts} in {time.perf_counter() - t:.3f} s")
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

    _trace(d, batch, urls, pins, service, out)
    return results


def _trace(d: Path, batch: af.Batch, urls: Any, pins: Any, service: af.Keyring,
           out: Callable[[str], None]) -> None:
    """Part 6: record the supply chain, then catch a photocopied code and a fake seller."""
    from datetime import UTC, datetime, timedelta

    _say(out, "6. The registry records every stamp's life (GS1 EPCIS 2.0 events)")
    db = d / "stamps.db"
    for old in d.glob("stamps.db*"):
        old.unlink()
    t0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    with af.Registry(db, keyring=service) as reg:
        reg.add_party("MFR-01", role="manufacturer", region="VN-HN", lat=21.03, lon=105.85)
        reg.add_party("DIST-07", role="distributor", region="VN-HN", lat=21.00, lon=105.80)
        reg.add_party("RET-03", role="retailer", region="VN-HN", lat=21.02, lon=105.84)
        reg.add_party("SHOP-42", role="marketplace_seller", region="VN-SG", lat=10.77,
                      lon=106.70)
        reg.register(batch, owner="MFR-01", at=t0)
        items = [batch[i] for i in range(min(len(batch), 80))]
        half = len(items) // 2
        cases = ["urn:epc:id:sscc:0614141.1000000001", "urn:epc:id:sscc:0614141.1000000002"]
        pallet = "urn:epc:id:sscc:0614141.2000000001"
        events = [af.Event.aggregate(parent=cases[0], children=items[:half], by="MFR-01",
                                     at=t0 + timedelta(hours=1)),
                  af.Event.aggregate(parent=cases[1], children=items[half:], by="MFR-01",
                                     at=t0 + timedelta(hours=1)),
                  af.Event.aggregate(parent=pallet, children=cases, by="MFR-01",
                                     at=t0 + timedelta(hours=2)),
                  af.Event.ship([pallet], source="MFR-01", destination="DIST-07",
                                at=t0 + timedelta(hours=3)),
                  af.Event.receive([pallet], by="DIST-07", at=t0 + timedelta(hours=9)),
                  af.Event.disaggregate(parent=pallet, by="DIST-07",
                                        at=t0 + timedelta(hours=10)),
                  af.Event.ship([cases[0]], source="DIST-07", destination="RET-03",
                                at=t0 + timedelta(days=1)),
                  af.Event.receive([cases[0]], by="RET-03", at=t0 + timedelta(days=1, hours=3)),
                  af.Event.sell([items[0]], by="RET-03", at=t0 + timedelta(days=2))]
        reg.record_many(events)
        reg.record_many(events)  # re-submitting is a no-op: events are identified by hash
        st = reg.stats()
        out(f"   the registry holds {st['events']:,} events about {st['stamps']:,} stamps and "
            f"{st['parties']} parties")
        g = reg.graph()
        item = items[0].epc
        out(f"   item {item}")
        out(f"   its history: {len(g.history(item))} events, in case {g.containers(item)[0]}")
        out(f"   custody chain: {' -> '.join(g.custody_chain(item))}; "
            f"now: {g.custodian(item) or 'a consumer'}")
        out(f"   the opened pallet holds {len(g.contents(pallet))} codes; case 2, still packed at "
            f"{g.custodian(cases[1])}, holds {len(g.contents(cases[1]))}")

        _say(out, "7. The buyer claims the stamp with the PIN; a copy is caught")
        first = reg.claim(urls[0], pins[0], at=t0 + timedelta(days=2, hours=1), lat=21.03,
                          lon=105.85)
        copy = reg.claim(urls[0], pins[0], at=t0 + timedelta(days=2, hours=2), lat=10.77,
                         lon=106.70)
        out(f"   first claim in Hanoi: {first.status.name}; same code again: {copy.status.name}")
        reg.record(af.Event.scan(item, by="app:4f2a", at=t0 + timedelta(days=2, hours=3),
                                 lat=21.03, lon=105.85))
        reg.record(af.Event.scan(item, by="app:91c0", at=t0 + timedelta(days=2, hours=3,
                                                                            minutes=30),
                                 lat=10.77, lon=106.70))
        out(f"   registry verdict for the code now: {reg.verify(urls[0]).status.name}")
        listing = reg.check_listing(items[-1].epc, seller="SHOP-42")
        out(f"   SHOP-42 lists a stamp it never received: ok={listing.ok}: "
            f"{'; '.join(listing.reasons)}")
        reg.record(af.Event.list(items[-1].epc, seller="SHOP-42",
                                 at=t0 + timedelta(days=3), listing="https://shop.example/p/991"))

        _say(out, "8. Detection ranks what to act on")
        alerts = af.detect(reg)
        for a in alerts[:6]:
            out(f"   {a.kind:24s} score {a.score:.2f}  {a.codes[0]}")
        out(f"   {sum(1 for a in alerts if a.score >= 0.5)} of {len(alerts)} alerts say "
            "'act on it' (score >= 0.5); a lone far scan stays a weak signal")
        n = reg.flag_suspected(alerts)
        out(f"   flagged {n} copied stamp(s) for every verifier: the scanned item is now "
            f"suspected ({reg.status(item).suspected}); a listing of it: "
            f"{reg.check_listing(item, seller='RET-03').reasons[-1]}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="antifake demo", description=__doc__)
    p.add_argument("--out", default=None,
                   help="output directory (default: a new temporary folder)")
    p.add_argument("-n", type=int, default=10_000, help="stamps to issue")
    a = p.parse_args(argv)
    run(a.out, a.n)
    return 0
