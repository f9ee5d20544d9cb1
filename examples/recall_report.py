"""Recall report: every item of a batch and where it is now.

    python examples/recall_report.py --db stamps.db --key-id 4242 --batch-id 0 --out recall.csv
    python examples/recall_report.py --demo /tmp/recall-demo      # builds a small chain first

Uses the registry and its trace graph: ``Registry.graph().recall(...)`` gives
the items of the batch (sold ones included) and their current custodians; for each item the
report adds the containers it is packed in now (so a warehouse pulls whole cases) and its
lifecycle state. ``--via PARTY`` (with ``--since/--until``) narrows the recall to items that
party held, e.g. one distributor's bad cold-chain week. Writes a CSV (epc, custodian,
inside, state) and prints a summary per custodian.

``--demo DIR`` first creates a key, issues 12 stamps, registers them and records a small supply
chain (2 cases shipped to a distributor, one case forwarded to a retailer, unpacked, 2 items
sold), then reports on that batch.
"""

from __future__ import annotations

import argparse
import csv
import importlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import antifake as af


def registry_class() -> Any:
    """``af.Registry`` (or ``antifake.registry.Registry`` before it is exported)."""
    return getattr(af, "Registry", None) or importlib.import_module(
        "antifake.registry").Registry


def build_demo(directory: Path) -> tuple[Path, int, int]:
    """A small registry with one batch moved through a supply chain; (db, key_id, batch_id)."""
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "stamps.db"
    if db.exists():
        db.unlink()
    key = af.IssuerKey.generate("VN-QLTT-01")
    batch = af.issue(key, 12, product=af.Product(gtin="09521234543213", lot="L23",
                                                 expiry="2027-12-31"))
    items = batch.epcs().tolist()
    case_a = "urn:epc:id:sscc:9521234.0000000001"
    case_b = "urn:epc:id:sscc:9521234.0000000002"
    t0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

    def t(hours: int) -> datetime:
        return t0 + timedelta(hours=hours)

    E = af.Event  # noqa: N806
    with registry_class()(db, keyring=af.Keyring([key])) as reg:
        reg.add_party("MFR-01", role="manufacturer", region="VN-HN", lat=21.03, lon=105.85)
        reg.add_party("DIST-07", role="distributor", region="VN-DN", lat=16.05, lon=108.20)
        reg.add_party("RET-03", role="retailer", region="VN-SG", lat=10.77, lon=106.70)
        reg.register(batch, owner="MFR-01", at=t(0))
        reg.record_many([
            E.aggregate(parent=case_a, children=items[:6], by="MFR-01", at=t(1)),
            E.aggregate(parent=case_b, children=items[6:], by="MFR-01", at=t(1)),
            E.ship([case_a, case_b], source="MFR-01", destination="DIST-07", at=t(2)),
            E.receive([case_a, case_b], by="DIST-07", at=t(20)),
            E.ship([case_b], source="DIST-07", destination="RET-03", at=t(30)),
            E.receive([case_b], by="RET-03", at=t(40)),
            E.disaggregate(parent=case_b, by="RET-03", at=t(41)),
            E.sell(items[6:8], by="RET-03", at=t(50)),
        ])
    return db, key.key_id, batch.batch_id


def report(db: str | Path, batch_id: int, key_id: int | None = None, via: str | None = None,
           since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
    """One row per recalled item: epc, custodian (None: sold or unknown), inside, state."""
    with registry_class()(db) as reg:
        g = reg.graph()
        r = g.recall(batch_id=batch_id, via=via, since=since, until=until, key_id=key_id)
        rows = []
        for epc, holder in zip(r.codes.tolist(), r.custodians.tolist(), strict=True):
            state = reg.status(epc)
            rows.append({"epc": epc, "custodian": holder,
                         "inside": " < ".join(g.containers(epc)),
                         "state": state.state if state.active else
                         f"{state.state} ({state.reason})"})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="registry database")
    p.add_argument("--batch-id", type=int, help="batch to recall")
    p.add_argument("--key-id", type=int, default=None, help="issuer key id of the batch")
    p.add_argument("--via", default=None, help="only items this party held")
    p.add_argument("--since", default=None, help="ISO 8601 (narrows --via)")
    p.add_argument("--until", default=None, help="ISO 8601 (narrows --via)")
    p.add_argument("--out", default="recall.csv", help="CSV report (default recall.csv)")
    p.add_argument("--demo", metavar="DIR", default=None,
                   help="build a small demo registry in DIR and report on it")
    a = p.parse_args(argv)
    if a.demo:
        db, a.key_id, a.batch_id = build_demo(Path(a.demo))
        a.db = str(db)
    if not a.db or a.batch_id is None:
        p.error("give --db and --batch-id (or --demo DIR)")
    rows = report(a.db, a.batch_id, a.key_id, a.via, a.since, a.until)
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["epc", "custodian", "inside", "state"])
        w.writeheader()
        w.writerows({**r, "custodian": r["custodian"] or ""} for r in rows)
    by = Counter(r["custodian"] or "(sold to consumers / unknown)" for r in rows)
    print(f"recall of batch {a.batch_id}"
          + (f" (key {a.key_id})" if a.key_id is not None else "")
          + (f" via {a.via}" if a.via else "") + f": {len(rows)} items")
    for holder, n in by.most_common():
        cases = sorted({r["inside"] for r in rows
                        if (r["custodian"] or "(sold to consumers / unknown)") == holder
                        and r["inside"]})
        where = f"  in {', '.join(cases)}" if cases else ""
        print(f"  {holder:<32} {n:>6}{where}")
    print(f"report: {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
