"""``antifake log`` and ``antifake evidence``: keygen, checkpoints, the watcher catching a
rewritten history, bundles with their HTML report, and bundle verification."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import antifake as af
from antifake import cli
from antifake.epcis.events import Event
from antifake.registry import Registry

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def setup(tmp_path: Path, capsys) -> dict:
    code, out, _ = run(capsys, "log", "keygen", "--name", "reg.example.vn/log", "-o",
                       str(tmp_path / "log.key"), "--no-passphrase")
    assert code == 0 and "reg.example.vn/log+" in out
    vkey = (tmp_path / "log.vkey").read_text().strip()
    key = af.IssuerKey.generate("VN-QLTT-01")
    batch = af.issue(key, 4, at=T0)
    db = tmp_path / "r.db"
    reg = Registry(db, keyring=af.Keyring([key]), log_key=af.LogKey.load(tmp_path / "log.key"))
    reg.add_party("RET-03", role="retailer", lat=10.77, lon=106.70)
    reg.register(batch, owner="RET-03", at=T0)
    reg.record(Event.scan(batch[0].epc, by="app:1", at=T0 + timedelta(days=1), lat=10.77,
                          lon=106.70))
    reg.record(Event.scan(batch[0].epc, by="app:2", at=T0 + timedelta(days=1, minutes=5),
                          lat=21.03, lon=105.85))
    reg.close()
    return {"d": tmp_path, "db": str(db), "vkey": vkey, "key": str(tmp_path / "log.key"),
            "epc": batch[0].epc}


def test_checkpoint_and_watch(setup: dict, capsys) -> None:
    d, db = setup["d"], setup["db"]
    code, out, _ = run(capsys, "log", "checkpoint", "--db", db, "--log-key", setup["key"])
    assert code == 0
    assert af.log.open_checkpoint(out, setup["vkey"]).size == 3
    watch = ["log", "watch", "--db", db, "--vkey", str(d / "log.vkey"), "--state",
             str(d / "state.json"), "--log-key", setup["key"]]
    code, out, _ = run(capsys, *watch)
    assert code == 0 and "first checkpoint" in out
    reg = Registry(db)
    reg.record(Event.scan(setup["epc"], by="app:3", at=T0 + timedelta(days=2), lat=1.0, lon=2.0))
    reg.close()
    code, out, _ = run(capsys, *watch)
    assert code == 0 and "consistent with the checkpoint of size 3" in out
    # the operator rewrites history: a copy of the registry with one event changed
    bad = d / "bad.db"
    shutil.copy(db, bad)
    import sqlite3

    con = sqlite3.connect(bad)
    con.execute("DELETE FROM log_nodes")
    con.execute("DELETE FROM log_runs")
    con.execute("DELETE FROM log_head")
    con.execute("UPDATE events SET hash = randomblob(32) WHERE id = 2")
    con.commit()
    con.close()
    r = Registry(bad)
    r.log.create()  # relogs the (rewritten) events
    r.record(Event.scan(setup["epc"], by="app:4", at=T0 + timedelta(days=3), lat=1.0, lon=2.0))
    r.close()
    code, out, _ = run(capsys, "log", "watch", "--db", str(bad), "--vkey", setup["vkey"],
                       "--state", str(d / "state.json"), "--log-key", setup["key"])
    assert code == 1 and "history was rewritten" in out
    st = json.loads((d / "state.json").read_text())
    assert len(st["checkpoints"]) == 2 and len(st["conflicts"]) == 1


def test_evidence_report_and_verify(setup: dict, capsys) -> None:
    d, db = setup["d"], setup["db"]
    for lang in ("vi", "en"):
        out_html = d / f"report-{lang}.html"
        code, out, err = run(capsys, "evidence", setup["epc"], "--db", db, "--log-key",
                             setup["key"], "-o", str(out_html), "--lang", lang)
        assert code == 0, err
        page = out_html.read_text()
        assert "<svg" in page and "http://" not in page.replace(
            'xmlns="http://www.w3.org/2000/svg"', "")
        assert ("ĐÃ XÁC MINH" if lang == "vi" else "VERIFIED") in page
        assert "<script" not in page
    bundle = d / "report-en.json"
    code, out, _ = run(capsys, "evidence", "verify", str(bundle), "--vkey", setup["vkey"])
    assert code == 0 and out.startswith("OK")
    b = json.loads(bundle.read_text())
    b["events"][1]["event"]["eventTime"] = "2020-01-01T00:00:00Z"
    bundle.write_text(json.dumps(b))
    code, out, _ = run(capsys, "evidence", "verify", str(bundle), "--vkey", setup["vkey"])
    assert code == 1 and "REFUSED" in out and "event 1" in out
    other = af.LogKey.generate("reg.example.vn/log").vkey
    code, out, _ = run(capsys, "--json", "evidence", "verify", str(d / "report-vi.json"),
                       "--vkey", other)
    assert code == 1 and json.loads(out)["ok"] is False


def test_usage_errors(setup: dict, capsys) -> None:
    code, _, err = run(capsys, "evidence", "verify", "x.json")
    assert code == 2 and "--vkey" in err
    code, _, err = run(capsys, "evidence", "verify", str(setup["d"] / "nope.json"), "--vkey",
                       setup["vkey"])
    assert code == 3
    code, _, err = run(capsys, "evidence", "verify", "x.json", "--vkey", "garbage")
    assert code == 2
    code, _, err = run(capsys, "log", "checkpoint", "--db", setup["db"], "--log-key",
                       str(setup["d"] / "missing.key"))
    assert code == 3
    code, _, err = run(capsys, "evidence", "urn:antifake:none", "--db", setup["db"],
                       "--log-key", setup["key"], "-o", str(setup["d"] / "r.html"))
    assert code == 2


def test_evidence_verify_writes_no_report_unless_asked(setup: dict, capsys, tmp_path: Path,
                                                       monkeypatch) -> None:
    """'evidence verify' checks a bundle; it writes an HTML report only with -o."""
    d, db = setup["d"], setup["db"]
    code, _, err = run(capsys, "evidence", setup["epc"], "--db", db, "--log-key", setup["key"],
                       "-o", str(d / "r.html"))
    assert code == 0, err
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    code, out, _ = run(capsys, "evidence", "verify", str(d / "r.json"), "--vkey", setup["vkey"])
    assert code == 0 and out.startswith("OK")
    assert list(here.iterdir()) == []
    code, _, _ = run(capsys, "evidence", "verify", str(d / "r.json"), "--vkey", setup["vkey"],
                     "-o", "checked.html")
    assert code == 0 and (here / "checked.html").read_text().startswith("<!DOCTYPE html>")
