"""Evidence bundles: built from a registry with a log, verified offline; every tampering is
refused with a message that names it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import antifake as af
from antifake.detect import Alert
from antifake.epcis.events import Event
from antifake.evidence import FORMAT, build_evidence
from antifake.registry import Registry

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("ev")
    key = af.IssuerKey.generate("VN-QLTT-01")
    lk = af.LogKey.generate("registry.example.vn/antifake")
    batch = af.issue(key, 12, product=af.Product(gtin="09521234543213", lot="L1"), at=T0)
    reg = Registry(d / "r.db", keyring=af.Keyring([key]), log_key=lk)
    reg.add_party("MFR-01", role="manufacturer", region="VN-HN", lat=21.03, lon=105.85)
    reg.add_party("RET-03", role="retailer", region="VN-SG", lat=10.77, lon=106.70)
    reg.register(batch, owner="MFR-01", at=T0)
    item, other = batch[0], batch[1]
    case = "urn:antifake:case:1"
    h = timedelta(hours=1)
    reg.record(Event.aggregate(case, [item.epc, other.epc], by="MFR-01", at=T0 + h))
    reg.record(Event.ship([case], source="MFR-01", destination="RET-03", at=T0 + 2 * h))
    reg.record(Event.receive([case], by="RET-03", at=T0 + timedelta(days=1)))
    reg.record(Event.disaggregate(parent=case, by="RET-03", at=T0 + timedelta(days=1, hours=1)))
    reg.record(Event.list(item.epc, seller="RET-03", at=T0 + timedelta(days=2),
                          listing="https://shop.example/p/1"))
    reg.record(Event.sell([item.epc], by="RET-03", at=T0 + timedelta(days=3)))
    s1 = reg.record(Event.scan(item.epc, by="app:1", at=T0 + timedelta(days=4), lat=10.77,
                               lon=106.70))
    s2 = reg.record(Event.scan(item.epc, by="app:2", at=T0 + timedelta(days=4, minutes=10),
                               lat=21.03, lon=105.85))
    pin = batch.pins()[0]
    reg.claim(item.url(base="https://x.example"), pin, at=T0 + timedelta(days=5))
    alert = Alert("impossible_travel", [item.epc], 0.9, [s1, s2], T0 + timedelta(days=4),
                  T0 + timedelta(days=4, minutes=10), "1100 km in 10 min")
    code = item.url(base="https://x.example")
    bundle = reg.evidence(code, alerts=[alert])
    return {"reg": reg, "lk": lk, "bundle": bundle, "item": item, "code": code, "d": d}


def test_bundle_content_and_verification(world: dict) -> None:
    b, lk = world["bundle"], world["lk"]
    assert b["format"] == FORMAT
    assert b["subject"]["epc"] == world["item"].epc
    assert b["subject"]["verdict"]["status"] == "ALREADY_CLAIMED"
    roles = [e["role"] for e in b["events"]]
    assert roles.count("history") >= 9  # commission, aggregate, ship, ..., claim
    assert b["alerts"][0]["kind"] == "impossible_travel"
    assert b["claims"] and b["claims"][0]["result"] == "ok"
    assert b["listings"][0]["seller"] == "RET-03"
    assert set(b["parties"]) >= {"MFR-01", "RET-03"}
    r = af.verify_evidence(b, lk.vkey)
    assert r.ok, r.problems
    assert r.events == len(b["events"])
    # survives a JSON round trip (what a third party receives)
    assert af.verify_evidence(json.dumps(b), lk.vkey).ok


def _broken(b: dict, fn) -> dict:
    c = copy.deepcopy(b)
    fn(c)
    return c


def test_tampered_field_is_named(world: dict) -> None:
    b, lk = world["bundle"], world["lk"]
    k = next(i for i, e in enumerate(b["events"]) if e["event"].get("bizStep") and
             "shipping" in e["event"]["bizStep"])

    def edit(c: dict) -> None:
        c["events"][k]["event"]["eventTime"] = "2027-03-01T09:30:00.000Z"
    r = af.verify_evidence(_broken(b, edit), lk.vkey)
    assert not r.ok
    assert any(f"event {k}" in p and "field was changed" in p for p in r.problems)


def test_dropped_and_reordered_events(world: dict) -> None:
    b, lk = world["bundle"], world["lk"]
    r = af.verify_evidence(_broken(b, lambda c: c["events"].pop(3)), lk.vkey)
    assert not r.ok and any("statement" in p for p in r.problems)

    def swap(c: dict) -> None:
        c["events"][2], c["events"][5] = c["events"][5], c["events"][2]
    r = af.verify_evidence(_broken(b, swap), lk.vkey)
    assert not r.ok
    assert any("reordered" in p for p in r.problems)


def test_swapped_proof_and_index(world: dict) -> None:
    b, lk = world["bundle"], world["lk"]

    def swap(c: dict) -> None:
        c["events"][1]["proof"], c["events"][2]["proof"] = (c["events"][2]["proof"],
                                                          c["events"][1]["proof"])
    r = af.verify_evidence(_broken(b, swap), lk.vkey)
    assert not r.ok and any("event 1" in p and "inclusion proof" in p for p in r.problems)

    def index(c: dict) -> None:
        c["events"][0]["leaf_index"] += 1
    r = af.verify_evidence(_broken(b, index), lk.vkey)
    assert not r.ok and any("event 0" in p and "inclusion proof" in p for p in r.problems)


def test_forged_checkpoint_and_wrong_key(world: dict) -> None:
    b, lk = world["bundle"], world["lk"]
    mallory = af.LogKey.generate(lk.name)

    def forge(c: dict) -> None:
        body = c["log"]["checkpoint"].split("\n\n")[0] + "\n"
        c["log"]["checkpoint"] = mallory.sign_note(body)
        c["log"]["vkey"] = mallory.vkey
    r = af.verify_evidence(_broken(b, forge), lk.vkey)
    assert not r.ok and any("checkpoint" in p for p in r.problems)
    r = af.verify_evidence(b, mallory.vkey)  # the bundle's own key is never trusted
    assert not r.ok and any("checkpoint" in p for p in r.problems)

    def alter(c: dict) -> None:
        c["log"]["checkpoint"] = c["log"]["checkpoint"].replace("\n", "\n1", 1)
    assert not af.verify_evidence(_broken(b, alter), lk.vkey).ok


def test_changed_alert_or_verdict_breaks_the_statement(world: dict) -> None:
    b, lk = world["bundle"], world["lk"]

    def edit(c: dict) -> None:
        c["subject"]["verdict"]["status"] = "AUTHENTIC"
    r = af.verify_evidence(_broken(b, edit), lk.vkey)
    assert not r.ok and any("statement" in p for p in r.problems)
    r = af.verify_evidence(_broken(b, lambda c: c["alerts"].clear()), lk.vkey)
    assert not r.ok


@pytest.mark.parametrize("bad", [None, 5, "not json", b"{}", [], {"format": "x"},
                                 {"format": FORMAT}, {"format": FORMAT, "log": {}},
                                 {"format": FORMAT, "log": {"checkpoint": 3}},
                                 "[" * 100000])
def test_garbage_bundles_are_refused_not_crashed(world: dict, bad) -> None:
    r = af.verify_evidence(bad, world["lk"].vkey)
    assert not r.ok and r.problems


def test_garbage_inside_events(world: dict) -> None:
    b, lk = world["bundle"], world["lk"]
    for mutate in (lambda c: c["events"].__setitem__(0, 7),
                   lambda c: c["events"][0].__setitem__("event", "x"),
                   lambda c: c["events"][0].__setitem__("proof", ["!!"]),
                   lambda c: c["events"][0].__setitem__("proof", None),
                   lambda c: c["events"][0].__setitem__("leaf_index", -5),
                   lambda c: c["events"][0].__setitem__("leaf_index", 1 << 200),
                   lambda c: c["events"][0].__setitem__("context", {"@x": 1}),
                   lambda c: c.__setitem__("statement", None),
                   lambda c: c.__setitem__("events", {"a": 1})):
        r = af.verify_evidence(_broken(b, mutate), lk.vkey)
        assert not r.ok and r.problems
    with pytest.raises(af.LogError):
        af.verify_evidence(b, "not a key")


def test_evidence_needs_a_log_key(tmp_path: Path, world: dict) -> None:
    reg = Registry(tmp_path / "nolog.db")
    with pytest.raises(af.RegistryError):
        reg.evidence(world["item"].epc)
    reg.close()
    reg = Registry(world["d"] / "r.db")  # the log, but not its key
    with pytest.raises(af.RegistryError, match="log key"):
        build_evidence(reg, world["item"].epc)
    reg.close()


def test_unknown_stamp(world: dict) -> None:
    with pytest.raises(af.UnknownStampError):
        world["reg"].evidence("urn:antifake:nope")


def test_imported_documents_rehash_from_the_bundle_json() -> None:
    """Every event of GS1's examples, stored and read back for a bundle, hashes to its id
    under the context the bundle gives it (other namespaces, ignoreFields, ranges)."""
    from antifake.epcis.event_hash import event_hash
    from antifake.storage.tlog import event_documents
    from conformance import conformance_dir

    files = sorted((conformance_dir() / "epcis-examples").glob("*.jsonld"))
    files += sorted((conformance_dir() / "epcis-event-hash").glob("*.jsonld"))
    if not files:
        pytest.skip("conformance data not found")
    total = 0
    for f in files:
        reg = Registry(":memory:", log_key=af.LogKey.generate("t"))
        try:
            res = reg.import_epcis(f)
        except af.AntifakeError:
            continue
        for eid, (doc, ctx) in zip(res.event_ids, event_documents(reg.storage, res.event_ids),
                                   strict=True):
            assert event_hash(doc, ctx) == eid, f.name
            total += 1
        reg.close()
    assert total >= 50


@pytest.mark.parametrize("backend", ["postgresql"])
def test_bundle_on_postgres(backend: str) -> None:
    import pg_server

    url = pg_server.fresh_schema_url(pg_server.require_pg_url())
    try:
        key = af.IssuerKey.generate("VN-QLTT-01")
        lk = af.LogKey.generate("pg.example/log")
        batch = af.issue(key, 5, at=T0)
        reg = Registry(url, keyring=af.Keyring([key]), log_key=lk)
        reg.register(batch, owner="MFR-01", at=T0)
        for j in range(5):
            reg.record(Event.scan(batch[0].epc, by=f"app:{j}", at=T0 + timedelta(hours=j),
                                  lat=10.0, lon=106.0))
        b = reg.evidence(batch[0].epc)
        assert len(b["events"]) == 6
        r = af.verify_evidence(b, lk.vkey)
        assert r.ok, r.problems
        reg.close()
    finally:
        pg_server.drop_schema(url)


def _third_party_script() -> str:
    """The verification script of docs/evidence.md (the block that defines check_bundle)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "evidence.md").read_text()
    blocks = text.split("```python\n")[1:]
    script = next(b.split("\n```")[0] for b in blocks if "def check_bundle" in b)
    assert "antifake" not in script.replace("antifake-evidence/1", "")
    return script


def test_documented_third_party_script_needs_no_antifake(world: dict, tmp_path: Path) -> None:
    import subprocess
    import sys

    script = _third_party_script() + (
        "\nimport sys\nbad = [m for m in sys.modules if m.split('.')[0] == 'antifake']\n"
        "assert not bad, bad\n")
    (tmp_path / "check.py").write_text(script)
    (tmp_path / "log.vkey").write_text(world["lk"].vkey + "\n")
    (tmp_path / "bundle.json").write_text(json.dumps(world["bundle"]))
    src = str(Path(af.__file__).resolve().parents[1])
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([sys.executable, "check.py"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    assert "bundle OK" in p.stdout and src not in p.stdout
    tampered = copy.deepcopy(world["bundle"])
    tampered["events"].pop(2)
    (tmp_path / "bundle.json").write_text(json.dumps(tampered))
    p = subprocess.run([sys.executable, "check.py"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60, env=env)
    assert p.returncode != 0 and "statement" in p.stderr
