"""``antifake record``: everyday events from arguments or a CSV file, checked like the library
(one transaction for all; a bad row stores nothing and names its line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import antifake as af
from antifake import cli
from antifake.registry import Registry

BASE = "https://v.example/s"
CASE = "urn:epc:id:sscc:0614141.0000000007"


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    key = af.IssuerKey.generate(issuer="VN-T")
    (tmp_path / "k.pub.json").write_text(key.public.to_json())
    batch = af.issue(key, 6, product=af.Product(gtin="09521234543213", lot="L1"))
    batch.save(tmp_path / "b.npz")
    assert cli.main(["register", "--db", "r.db", "--batch", "b.npz", "--owner", "MFR-01",
                     "--role", "manufacturer", "-q"]) == 0
    return tmp_path, batch


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["record", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_record_the_supply_chain_from_arguments(setup, capsys) -> None:
    d, batch = setup
    urls = [batch[i].url(BASE) for i in range(3)]  # scanned QR text works as well as EPCs
    db = ["--db", "r.db", "--pubkey", "k.pub.json"]
    code, out, _ = run(capsys, "aggregate", CASE, *urls, "--by", "MFR-01", *db,
                       "--at", "2027-03-01T08:00:00Z")
    assert code == 0 and out.strip() == "recorded 1 event (packing) about 4 codes"
    assert run(capsys, "ship", CASE, "--from", "MFR-01", "--to", "DIST-07", *db,
               "--at", "2027-03-02T08:00:00Z")[0] == 0
    assert run(capsys, "receive", CASE, "--by", "DIST-07", *db,
               "--at", "2027-03-03T08:00:00+07:00")[0] == 0
    assert run(capsys, "disaggregate", CASE, "--by", "DIST-07", *db,
               "--at", "2027-03-04T08:00:00Z")[0] == 0
    assert run(capsys, "sell", batch[0].epc, "--by", "DIST-07", *db,
               "--at", "2027-03-05T08:00:00Z")[0] == 0
    code, out, _ = run(capsys, "scan", urls[1], "--by", "app:4f2a", "--lat", "10.77",
                       "--lon", "106.7", *db, "--at", "2027-03-06T08:00:00Z", "--json")
    res = json.loads(out)
    assert code == 0 and res["events"] == 1 and res["new"] == 1
    # the same event again: stored once
    code, out, _ = run(capsys, "scan", urls[1], "--by", "app:4f2a", "--lat", "10.77",
                       "--lon", "106.7", *db, "--at", "2027-03-06T08:00:00Z")
    assert code == 0 and "1 already recorded" in out
    with Registry(d / "r.db") as reg:
        g = reg.graph()
        assert g.custody_chain(batch[1].epc) == ["MFR-01", "DIST-07"]
        assert g.custodian(batch[0].epc) is None  # sold
        assert g.containers(batch[1].epc) == []
        scan = reg.history(batch[1].epc)[-1]
        assert (scan.by, scan.lat, scan.lon) == ("app:4f2a", 10.77, 106.7)


def test_record_from_csv_is_atomic(setup, capsys) -> None:
    d, batch = setup
    e = [batch[i].epc for i in range(4)]
    (d / "ship.csv").write_text(
        "codes;from;to;at\n"
        f"{e[0]} {e[1]};MFR-01;DIST-07;2027-03-02T08:00:00Z\n"
        f"{e[2]}|{e[3]};MFR-01;DIST-09;2027-03-02T09:00:00Z\n")
    code, out, _ = run(capsys, "ship", "--csv", "ship.csv", "--db", "r.db")
    assert code == 0 and out.strip() == "recorded 2 events (shipping) about 4 codes"
    # a bad row: nothing of the file is stored, and the message names the line
    (d / "recv.csv").write_text(f"code,at\n{e[0]},2027-03-03T08:00:00Z\n"
                                f"{e[1]},yesterday\n")
    code, _, err = run(capsys, "receive", "--csv", "recv.csv", "--by", "DIST-07",
                       "--db", "r.db")
    assert code == 2 and "recv.csv:3:" in err and "yesterday" in err
    with Registry(d / "r.db") as reg:
        assert reg.stats()["events"] == 3  # commission + the two ships
    # a semicolon file read as commas would be one unknown column: the hint says so
    code, _, err = run(capsys, "receive", "--csv", "ship.csv", "--delimiter", ",",
                       "--db", "r.db")
    assert code == 2 and "--delimiter" in err
    code, _, err = run(capsys, "receive", "--by", "DIST-07", "--db", "r.db")
    assert code == 2 and "receive needs codes" in err
    code, _, err = run(capsys, "ship", e[0], "--from", "MFR-01", "--db", "r.db")
    assert code == 2 and "--to" in err
    code, _, err = run(capsys, "scan", e[0], e[1], "--by", "x", "--db", "r.db")
    assert code == 2 and "one code" in err
    code, _, err = run(capsys, "sell", "NOT-A-CODE", "--by", "x", "--db", "r.db")
    assert code == 2 and "NOT-A-CODE" in err
