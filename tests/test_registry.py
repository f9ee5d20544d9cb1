"""Registry: identity and idempotency, atomicity, EPCIS import/export, lifecycle rules, claims,
code resolution, verification with registry state, schema versions, graph columns."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import antifake as af
import pg_server
from antifake import gs1
from antifake.detect import LISTING_FLAGS, Alert, TraceData, check_listings
from antifake.epcis.event_id import hash_ids, hash_to_id, id_to_hash
from antifake.epcis.events import Event, event_kind
from antifake.epcis.jsonld import dumps, parse_document
from antifake.epcis.kinds import CLAIM_DETAILS, REASON_DETAILS, EventKind
from antifake.errors import (
    EPCISError,
    LifecycleError,
    RegistryError,
    UnknownStampError,
)
from antifake.registry import MAX_WRONG_PINS, Registry
from antifake.registry import _registry as registry_mod
from antifake.storage import CHUNK_CAP, SCHEMA_VERSION, SQLiteStorage, Storage
from antifake.storage.sqlite import APPLICATION_ID
from antifake.verify import Status
from conformance import conformance_dir as shared_conformance_dir

BASE = "https://xacthuc.example.vn/abc"
T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
PRODUCT = af.Product(gtin="09521234543213", lot="L23", expiry="2027-12-31")


def conformance_dir() -> Path | None:
    root = shared_conformance_dir()
    if root.is_dir():
        return root
    if os.environ.get("CI"):
        pytest.fail(f"conformance data not found at {root} (set ANTIFAKE_CONFORMANCE)")
    return None


CONFORMANCE = conformance_dir()
EXAMPLES = sorted((CONFORMANCE / "epcis-examples").glob("*.jsonld")) if CONFORMANCE else []


# ----------------------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------------------
# key: conftest's (a fresh random key); ring: that key with its secret
@pytest.fixture
def ring(key: af.IssuerKey) -> af.Keyring:
    return af.Keyring([key])


@pytest.fixture
def batch(key: af.IssuerKey) -> af.Batch:
    return af.issue(key, 40, product=PRODUCT, at=T0)


@pytest.fixture
def plain(key: af.IssuerKey) -> af.Batch:
    return af.issue(key, 30, at=T0)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every test that opens a registry runs on both backends (PostgreSQL: a fresh schema of
    the server ``pg_server`` provides; skipped without one, failed under CI)."""
    return str(request.param)


NewDb = Callable[[str], "Path | str"]

#: For tests about one backend's files or locking (PostgreSQL's have their own tests).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def new_db(backend: str, tmp_path: Path) -> Iterator[NewDb]:
    """Makes the location of a new, empty registry on the test's backend."""
    made: list[str] = []

    def make(name: str = "stamps.db") -> Path | str:
        if backend == "sqlite":
            return tmp_path / name
        url = pg_server.fresh_schema_url(pg_server.require_pg_url())
        made.append(url)
        return url

    yield make
    for url in made:
        pg_server.drop_schema(url)


@pytest.fixture
def db(new_db: NewDb) -> Path | str:
    return new_db("stamps.db")


@pytest.fixture
def reg(db: Path, ring: af.Keyring, batch: af.Batch, plain: af.Batch):
    r = Registry(db, keyring=ring)
    r.add_party("MFR-01", role="manufacturer", region="VN-HN", lat=21.03, lon=105.85)
    r.add_party("DIST-07", role="distributor", region="VN-SG")
    r.add_party("RET-03", role="retailer", region="VN-SG")
    r.register(batch, owner="MFR-01", at=T0)
    r.register(plain, owner="MFR-01", at=T0)
    yield r
    r.close()


def at(days: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(days=days, seconds=seconds)


def n_events(reg: Registry) -> int:
    return reg.stats()["events"]


# ----------------------------------------------------------------------------------------
# storage helpers
# ----------------------------------------------------------------------------------------
def test_event_id_hash_round_trip_and_bulk_ids() -> None:
    rng = np.random.default_rng(1)
    h = rng.integers(0, 256, (1000, 32), dtype=np.uint8)
    ids = hash_ids(h, block=97)
    assert ids.dtype == object and len(ids) == 1000
    for i in (0, 1, 96, 97, 500, 999):
        assert ids[i] == hash_to_id(h[i].tobytes())
        assert id_to_hash(ids[i]) == h[i].tobytes()
    with pytest.raises(RegistryError):
        id_to_hash("ni:///sha-256;xyz?ver=CBV2.0")


# ----------------------------------------------------------------------------------------
# register
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("gs1_product", [True, False])
def test_register_stores_stamps_and_commissioning_events(
        db: Path, ring: af.Keyring, key: af.IssuerKey, gs1_product: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_mod, "COMMISSION_CHUNK", 7)
    b = af.issue(key, 25, product=PRODUCT if gs1_product else None, at=T0)
    with Registry(db, keyring=ring) as reg:
        assert reg.register(b, owner="MFR-01", at=T0) == 25
        epcs = b.epcs().tolist()
        want = [Event.commission(epcs[i:i + 7], by="MFR-01", at=T0).event_id
                for i in range(0, 25, 7)]
        g = reg.graph()
        assert list(g.event_ids) == want  # the fast hash path agrees with Event.event_id
        assert g.n_nodes == 25 and reg.stats()["stamps"] == 25
        for i in (0, 6, 7, 24):
            assert g.history_ids(epcs[i]) == [want[i // 7]]
            assert g.custodian(epcs[i]) == "MFR-01"
            assert reg.status(b[i]).last_event_id == want[i // 7]
        r = g.recall(batch_id=b.batch_id, key_id=b.key_id)
        assert sorted(r.codes.tolist()) == sorted(epcs)
        assert reg.check()["ok"]


def test_register_twice_is_a_noop_and_a_clash_is_refused(
        reg: Registry, key: af.IssuerKey, batch: af.Batch) -> None:
    before = reg.stats()
    assert reg.register(batch, owner="MFR-01", at=T0) == 0
    assert reg.register(batch, owner="MFR-01", at=at(1)) == 0
    assert reg.stats() == before
    other = af.issue(key, 40, batch_id=batch.batch_id, at=T0)  # same (key, batch id)
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(other, owner="MFR-01", at=T0)
    assert reg.stats() == before
    with pytest.raises(RegistryError):
        reg.register("not a batch", owner="MFR-01")  # type: ignore[arg-type]


def test_register_streamed_chunks(db: Path, ring: af.Keyring, key: af.IssuerKey) -> None:
    stream = af.issue_iter(key, 50, chunk_size=20, at=T0)
    with Registry(db, keyring=ring) as reg:
        chunks = list(stream)
        assert sum(reg.register(c, owner="MFR-01", at=T0) for c in chunks) == 50
        assert reg.register(chunks[1], owner="MFR-01", at=T0) == 0
        assert reg.stats()["stamps"] == 50
        last = chunks[-1][len(chunks[-1]) - 1]
        assert last.index == 49
        assert reg.resolve(last.number) == last.epc
        assert reg.resolve(last.url(BASE)) == last.epc


def test_register_after_an_import_named_the_stamp(db: Path, ring: af.Keyring,
                                                   batch: af.Batch) -> None:
    """A stamp seen in imported events before registration keeps its node and history."""
    with Registry(db, keyring=ring) as reg:
        epc = batch[3].epc
        scan = Event.scan(epc, by="app:1", at=at(-1))
        reg.record(scan)
        assert reg.register(batch, owner="MFR-01", at=T0) == 40
        assert reg.resolve(batch[3]) == epc
        st = reg.status(batch[3].url(BASE))
        assert st.registered and st.last_event_time == T0  # commissioning after the scan
        g = reg.graph()
        assert scan.event_id in g.history_ids(epc)
        assert g.custodian(epc) == "MFR-01"
        assert reg.check()["ok"], reg.check()


# ----------------------------------------------------------------------------------------
# events: identity, idempotency, atomicity
# ----------------------------------------------------------------------------------------
def test_same_event_twice_is_a_noop(reg: Registry, batch: af.Batch) -> None:
    e = Event.scan(batch[0], by="app:4f2a", at=at(1), lat=10.77, lon=106.70)
    n = n_events(reg)
    assert reg.record(e) == e.event_id
    assert reg.record(e) == e.event_id
    same = Event.scan(batch[0].epc, by="app:4f2a", at=at(1), lat=10.77, lon=106.70)
    res = reg.record_many([same, e, same])
    assert res.new == 0 and res.event_ids == [e.event_id] * 3
    assert n_events(reg) == n + 1
    # two phones, same millisecond: two events
    reg.record(Event.scan(batch[0], by="app:other", at=at(1), lat=10.77, lon=106.70))
    assert n_events(reg) == n + 2
    # a long list (PostgreSQL sends it with COPY) dedupes too, inside and across calls
    many = [Event.scan(batch[i % 40], by=f"app:{i}", at=at(2, i)) for i in range(300)]
    assert reg.record_many(many + many[:50]).new == 300
    assert reg.record_many(many).new == 0
    assert n_events(reg) == n + 302 and reg.check()["ok"]


def test_record_many_dedupes_inside_one_call(reg: Registry, batch: af.Batch) -> None:
    e = Event.sell([batch[1]], by="RET-03", at=at(2))
    res = reg.record_many([e, e])
    assert res.new == 1 and len(res) == 2


def test_record_many_is_atomic(reg: Registry, batch: af.Batch) -> None:
    n, stats = n_events(reg), reg.stats()
    good = [Event.scan(batch[i], by="app:1", at=at(1, i)) for i in range(4)]
    bad = {"type": "ObjectEvent", "action": "OBSERVE", "epcList": [batch[0].epc],
           "eventTimeZoneOffset": "+00:00"}  # no eventTime
    with pytest.raises(EPCISError, match=r"\$\[2\]"):
        reg.record_many(good[:2] + [bad] + good[2:])
    with pytest.raises(EPCISError):
        reg.record_many(good[:2] + ["junk"] + good[2:])  # type: ignore[list-item]
    assert reg.stats() == stats
    # a lifecycle rule broken in the middle: nothing stored either
    reg.decommission([batch[5]], reason="stolen", by="RET-03", at=at(1))
    n = n_events(reg)
    with pytest.raises(LifecycleError, match="stolen"):
        reg.record_many(good[:2] + [Event.reactivate(batch[5], by="RET-03", at=at(2))]
                        + good[2:])
    assert n_events(reg) == n
    assert reg.status(batch[0]).last_event_time == T0
    assert reg.record_many(good).new == 4


def test_record_accepts_epcis_dicts(reg: Registry, batch: af.Batch) -> None:
    e = Event.ship([batch[2]], source="MFR-01", destination="DIST-07", at=at(1))
    assert reg.record(e.to_epcis()) == e.event_id
    assert reg.record(e) == e.event_id
    assert reg.graph().custodian(batch[2].epc) == "MFR-01"


def test_event_kinds() -> None:
    t = at(0)
    assert event_kind(Event.commission(["urn:x:1"], by="A", at=t)) == EventKind.COMMISSION
    assert event_kind(Event.aggregate("urn:c:1", ["urn:x:1"], by="A", at=t)) == \
        EventKind.AGGREGATE
    assert event_kind(Event.disaggregate("urn:c:1", by="A", at=t)) == EventKind.DISAGGREGATE
    assert event_kind(Event.ship(["urn:x:1"], source="A", destination="B", at=t)) == \
        EventKind.SHIP
    assert event_kind(Event.receive(["urn:x:1"], by="B", at=t)) == EventKind.RECEIVE
    assert event_kind(Event.sell(["urn:x:1"], by="B", at=t)) == EventKind.SELL
    assert event_kind(Event.scan("urn:x:1", by="app", at=t)) == EventKind.SCAN
    assert event_kind(Event.list("urn:x:1", seller="S", at=t, listing="https://s/1")) == \
        EventKind.LIST
    assert event_kind(Event.decommission(["urn:x:1"], reason="sold", by="B", at=t)) == \
        EventKind.DECOMMISSION
    assert event_kind(Event.reactivate("urn:x:1", by="B", at=t)) == EventKind.REACTIVATE
    assert event_kind(Event.claim("urn:x:1", by="app", at=t, ok=True)) == EventKind.CLAIM
    other = Event(type="ObjectEvent", action="OBSERVE", time=t, epcs=("urn:x:1",),
                  biz_step="storing")
    assert event_kind(other) == EventKind.OTHER


# ----------------------------------------------------------------------------------------
# EPCIS import / export
# ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not EXAMPLES, reason="conformance examples not available")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_conformance_example_imports(tmp_path: Path, new_db: NewDb, path: Path) -> None:
    doc = parse_document(path)
    with Registry(new_db("r.db")) as reg:
        res = reg.import_epcis(path)
        assert res.event_ids == doc.event_ids
        assert res.new == len(set(doc.event_ids))
        assert reg.import_epcis(path).new == 0
        assert reg.stats()["events"] == len(set(doc.event_ids))
        out = tmp_path / "out.jsonld"
        assert reg.export_epcis(out) == res.new
        with Registry(new_db("fresh.db")) as fresh:
            again = fresh.import_epcis(out)
            assert again.event_ids == list(dict.fromkeys(res.event_ids))
        g = reg.graph()
        assert g.n_events == res.new
        assert reg.check()["ok"]
        # every stored event reads back by id with the same identity
        assert [e.event_id for e in reg.events(res.event_ids)] == res.event_ids
        # nodes are found through the one GS1 canonicaliser: an EPC and its canonical
        # Digital Link name the same node
        for e in doc.events:
            for epc in (*e.epcs, *e.children, *([e.parent] if e.parent else [])):
                node = reg.storage.node_by_key(epc)
                assert node is not None, epc
                assert reg.storage.node_by_key(gs1.canonical_gs1_uri(epc) or epc) == node


@pytest.mark.skipif(not EXAMPLES, reason="conformance examples not available")
def test_all_conformance_examples_in_one_registry_round_trip(tmp_path: Path,
                                                             new_db: NewDb) -> None:
    """Documents binding a prefix differently ("example") share one export."""
    ids: list[str] = []
    with Registry(new_db("all.db")) as reg:
        for path in EXAMPLES:
            ids += reg.import_epcis(path).event_ids
        unique = list(dict.fromkeys(ids))
        assert reg.stats()["events"] == len(unique)
        out = tmp_path / "all.jsonld"
        assert reg.export_epcis(out) == len(unique)
        doc = json.loads(out.read_text())
        assert doc["type"] == "EPCISDocument"
        with Registry(new_db("fresh.db")) as fresh:
            res = fresh.import_epcis(out)
            assert res.event_ids == unique and res.new == len(unique)
        assert reg.graph().n_events == len(unique)


def test_same_document_twice(reg: Registry, batch: af.Batch, tmp_path: Path) -> None:
    evs = [Event.aggregate("urn:epc:id:sscc:0614141.1234567890", list(batch)[:10], by="MFR-01",
                           at=at(1)),
           Event.ship(["urn:epc:id:sscc:0614141.1234567890"], source="MFR-01",
                      destination="DIST-07", at=at(2)),
           Event.receive(["urn:epc:id:sscc:0614141.1234567890"], by="DIST-07", at=at(3))]
    text = dumps(evs)
    first = reg.import_epcis(text)
    assert first.new == 3 and first.event_ids == [e.event_id for e in evs]
    second = reg.import_epcis(text.encode())
    assert second.new == 0 and second.event_ids == first.event_ids
    path = tmp_path / "doc.jsonld"
    path.write_text(text)
    assert reg.import_epcis(path).new == 0
    # a str is document text, never a path: a string naming a file is not read
    with pytest.raises(af.EPCISError, match="pathlib.Path"):
        reg.import_epcis(str(path))
    with pytest.raises(af.EPCISError):
        reg.import_epcis("/etc/passwd")
    g = reg.graph()
    assert g.custodian(batch[0].epc) == "DIST-07"
    # a GS1 EPC is kept under its canonical Digital Link (one node for both forms)
    assert g.containers(batch[0].epc) == ["https://id.gs1.org/00/106141412345678908"]
    assert g.node_id("urn:epc:id:sscc:0614141.1234567890") == \
        g.node_id("https://id.gs1.org/00/106141412345678908")


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d["epcisBody"]["eventList"][2].pop("eventTime"), "eventList[2].eventTime"),
    (lambda d: d["epcisBody"]["eventList"][1].__setitem__("action", "MOVE"),
     "eventList[1].action"),
    (lambda d: d["epcisBody"].pop("eventList"), "eventList"),
    (lambda d: d.__setitem__("type", "Nope"), "$.type"),
])
def test_malformed_documents_store_nothing(reg: Registry, batch: af.Batch, mutate, where: str
                                           ) -> None:
    evs = [Event.scan(batch[i], by="app:1", at=at(1, i)) for i in range(4)]
    doc = json.loads(dumps(evs))
    mutate(doc)
    before = reg.stats()
    with pytest.raises(EPCISError) as info:
        reg.import_epcis(json.dumps(doc))
    assert where in info.value.path
    assert reg.stats() == before
    with pytest.raises(EPCISError):
        reg.import_epcis(b'{"type": "EPCISDocument", "epcisBody": {"eventList": [')
    with pytest.raises(EPCISError):
        reg.import_epcis(b"\xff\xfe")
    assert reg.stats() == before


def test_import_names_unknown_epcs_and_parties(reg: Registry) -> None:
    before = reg.stats()
    e = Event.ship(["urn:epc:id:sgtin:0614141.107346.2018"], source="FOREIGN-1",
                   destination="FOREIGN-2", at=at(1))
    assert reg.import_epcis(dumps([e])).new == 1
    after = reg.stats()
    assert after["parties"] == before["parties"] + 2
    assert after["events"] == before["events"] + 1
    assert reg.graph().custodian("urn:epc:id:sgtin:0614141.107346.2018") == "FOREIGN-1"


def test_export_import_round_trip_keeps_ids_and_state(
        reg: Registry, batch: af.Batch, plain: af.Batch, tmp_path: Path,
        ring: af.Keyring, new_db: NewDb) -> None:
    case = "urn:epc:id:sscc:0614141.0000000001"
    reg.record(Event.aggregate(case, [batch[0], batch[1]], by="MFR-01", at=at(1)))
    reg.record(Event.ship([case], source="MFR-01", destination="DIST-07", at=at(2)))
    reg.decommission([batch[7]], reason="destroyed", by="MFR-01", at=at(3))
    pins = batch.pins()
    reg.claim(batch[9], pins[9], at=at(4), lat=10.7, lon=106.7, by="app:1")
    reg.claim(plain[1], "000-000-000", at=at(4))  # a typo (or a wrong PIN)
    out = tmp_path / "export.jsonld"
    n = reg.export_epcis(out)
    assert n == n_events(reg)
    doc = parse_document(out)
    want = list(reg.graph().event_ids)
    assert doc.event_ids == want
    with Registry(new_db("copy.db"), keyring=ring) as copy:
        res = copy.import_epcis(out, trust_claims=True)  # our own export: its claims count
        assert res.event_ids == want and res.new == n
        assert copy.status(batch[7].epc).reason == "destroyed"
        assert copy.status(batch[9].epc).claim == "claimed"
        assert copy.graph().custodian(batch[0].epc) == "MFR-01"
        assert copy.check()["ok"]
    # since: only events at or after
    later = tmp_path / "later.jsonld"
    assert reg.export_epcis(later, since=at(3)) == 3
    assert reg.export_epcis(tmp_path / "none.jsonld", since=at(100)) == 0
    assert parse_document(tmp_path / "none.jsonld").events == []


# ----------------------------------------------------------------------------------------
# lifecycle
# ----------------------------------------------------------------------------------------
def test_decommission_and_undo_within_ten_days(reg: Registry, batch: af.Batch) -> None:
    s = batch[3]
    n = n_events(reg)
    [eid] = reg.decommission([s], reason="sold", by="RET-03", at=at(1))
    st = reg.status(s)
    assert (st.state, st.reason, st.since, st.last_event_id) == ("decommissioned", "sold",
                                                                  at(1), eid)
    assert not st.active
    with pytest.raises(LifecycleError, match="already"):
        reg.decommission([s, batch[4]], reason="sample", by="RET-03", at=at(2))
    assert reg.status(batch[4]).active  # all or nothing
    rid = reg.reactivate(s.url(BASE), by="RET-03", at=at(1 + 9.9))
    st = reg.status(s)
    assert st.active and st.reason is None and st.last_event_id == rid
    assert n_events(reg) == n + 2  # each change is an event
    with pytest.raises(LifecycleError, match="nothing to reactivate"):
        reg.reactivate(s, by="RET-03", at=at(12))


def test_undo_window_is_ten_days(reg: Registry, batch: af.Batch) -> None:
    reg.decommission(batch[3], reason="exported", by="RET-03", at=at(1))
    with pytest.raises(LifecycleError, match="10-day"):
        reg.reactivate(batch[3], by="RET-03", at=at(11, 1))
    with pytest.raises(LifecycleError, match="before"):
        reg.reactivate(batch[3], by="RET-03", at=at(0))
    assert reg.status(batch[3]).state == "decommissioned"
    reg.reactivate(batch[3], by="RET-03", at=at(11))  # exactly 10 days: still allowed


@pytest.mark.parametrize("reason", ["recalled", "stolen", "destroyed"])
def test_never_undone(reg: Registry, batch: af.Batch, reason: str) -> None:
    reg.decommission([batch[3]], reason=reason, by="MFR-01", at=at(1))
    with pytest.raises(LifecycleError, match=reason):
        reg.reactivate(batch[3], by="MFR-01", at=at(1, 60))
    n = n_events(reg)
    with pytest.raises(LifecycleError, match=reason):  # nor by recording the event
        reg.record(Event.reactivate(batch[3], by="MFR-01", at=at(1, 61)))
    assert n_events(reg) == n and reg.status(batch[3]).reason == reason


def test_decommission_reasons(reg: Registry, batch: af.Batch) -> None:
    with pytest.raises(LifecycleError, match="reason"):
        reg.decommission([batch[0]], reason="lost", by="MFR-01", at=at(1))
    ids = reg.decommission([batch[i] for i in range(6)] + [batch[0]], reason="sample",
                           by="MFR-01", at=at(1))
    assert len(ids) == 1
    assert all(reg.status(batch[i]).reason == "sample" for i in range(6))
    assert reg.decommission([], reason="sold") == []
    n = n_events(reg)
    with pytest.raises(RegistryError, match="by="):  # the recording party is required
        reg.decommission([batch[7]], reason="sample", at=at(1))
    with pytest.raises(RegistryError, match="by="):
        reg.reactivate(batch[0], at=at(2))
    assert n_events(reg) == n and reg.status(batch[7]).reason is None


def test_recorded_lifecycle_events_update_state(reg: Registry, batch: af.Batch) -> None:
    reg.record(Event.decommission([batch[2]], reason="sold", by="RET-03", at=at(5)))
    assert reg.status(batch[2]).reason == "sold"
    # an older decommissioning arriving late is history
    reg.record(Event.decommission([batch[2]], reason="sample", by="RET-03", at=at(4)))
    assert reg.status(batch[2]).reason == "sold"
    reg.record(Event.reactivate(batch[2], by="RET-03", at=at(6)))
    assert reg.status(batch[2]).active


# ----------------------------------------------------------------------------------------
# claims
# ----------------------------------------------------------------------------------------
def claim_events(reg: Registry, epc: str) -> list[str]:
    g = reg.graph()
    kinds = np.asarray([EventKind.CLAIM], dtype=np.uint8)
    hist = g.history(epc)
    cols = reg.columns()
    return [g.event_ids[i] for i in hist.tolist() if cols.ev_kind[i] in kinds]


def test_first_claim_wins(reg: Registry, batch: af.Batch) -> None:
    pins = batch.pins()
    s = batch[4]
    r1 = reg.claim(s.url(BASE), pins[4], at=at(1), lat=10.77, lon=106.70, by="app:4f2a")
    assert r1.ok and r1.result == "ok" and r1.status == Status.AUTHENTIC
    assert r1.claim == "claimed" and r1.claimed_at == at(1)
    r2 = reg.claim(s.number, pins[4], at=at(2), lat=21.0, lon=105.8)
    assert not r2.ok and r2.result == "already_claimed" and r2.status == Status.ALREADY_CLAIMED
    r3 = reg.claim(s, "000-000-000", at=at(3))
    assert r3.result == "already_claimed"  # the PIN is not even looked at
    st = reg.status(s)
    assert st.claim == "claimed" and st.attempts == 3 and st.wrong_pins == 0
    ids = claim_events(reg, s.epc)
    assert ids == [r1.event_id, r2.event_id, r3.event_id]
    g = reg.graph()
    e = parse_document(_export_text(reg)).events
    by_id = {x.event_id: x for x in e}
    assert by_id[r1.event_id].claim_result == "ok" and by_id[r1.event_id].lat == 10.77
    assert by_id[r2.event_id].claim_result == "already_claimed"
    assert g.custodian(s.epc) == "MFR-01"  # claims do not move custody


def _export_text(reg: Registry) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.jsonld"
        reg.export_epcis(p)
        return p.read_text()


def test_wrong_pins_lock_and_typos_do_not_count(reg: Registry, batch: af.Batch) -> None:
    pins = batch.pins(grouped=False)
    s = batch[6]
    right = pins[6]
    wrong = pins[7]  # a valid PIN (good check character) of another stamp
    bad_check = right[:-1] + ("0" if right[-1] != "0" else "1")
    typo = reg.claim(s, bad_check, at=at(1))
    assert typo.result == "mistyped" and typo.status == Status.BAD_CHECK_CHARACTER
    assert typo.wrong_pins == 0 and typo.attempts_left == MAX_WRONG_PINS
    short = reg.claim(s, "12345", at=at(1, 1))
    assert short.result == "mistyped" and short.status == Status.MALFORMED
    for k in range(MAX_WRONG_PINS):
        r = reg.claim(s, wrong, at=at(1, 10 + k))
        assert r.result == "wrong_pin" and r.status == Status.BAD_TAG and not r.ok
        assert r.wrong_pins == k + 1
    assert r.claim == "locked" and r.attempts_left == 0
    locked = reg.claim(s, right, at=at(2))
    assert not locked.ok and locked.result == "locked" and locked.claim == "locked"
    st = reg.status(s)
    assert st.claim == "locked" and st.wrong_pins == MAX_WRONG_PINS
    assert st.attempts == 2 + MAX_WRONG_PINS + 1
    assert len(claim_events(reg, s.epc)) == st.attempts  # every attempt is an event
    assert reg.verify(s.url(BASE)).status == Status.AUTHENTIC  # the stamp itself is fine


def test_identical_wrong_attempts_in_one_millisecond_all_count(reg: Registry,
                                                               batch: af.Batch) -> None:
    wrong = batch.pins()[1]
    for _ in range(MAX_WRONG_PINS):
        reg.claim(batch[0], wrong, at=at(1))  # same time, same (absent) coordinates
    assert reg.status(batch[0]).claim == "locked"


def test_claim_of_decommissioned_or_unknown_stamps(reg: Registry, batch: af.Batch,
                                                   key: af.IssuerKey, db: Path) -> None:
    pins = batch.pins()
    reg.decommission([batch[8]], reason="recalled", by="MFR-01", at=at(1))
    r = reg.claim(batch[8], pins[8], at=at(2))
    assert not r.ok and r.result == "inactive" and r.status == Status.RECALLED
    assert reg.status(batch[8]).claim == "unclaimed"
    with pytest.raises(UnknownStampError):
        reg.claim(af.issue(key, 3, at=T0)[0], "000-000-000")  # not registered
    with Registry(db, keyring=af.Keyring([key.public])) as public_only, \
            pytest.raises(RegistryError, match="secret"):
        public_only.claim(batch[9].url(BASE), pins[9])


def test_concurrent_claims_have_one_winner(db: Path, reg: Registry, ring: af.Keyring,
                                           batch: af.Batch) -> None:
    pin = batch.pins()[11]
    url = batch[11].url(BASE)
    n = 8
    regs = [Registry(db, keyring=ring) for _ in range(n // 2)]
    results: list[af.Status] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def worker(i: int) -> None:
        r = regs[i % len(regs)] if i % 2 else reg  # separate connections and a shared one
        barrier.wait()
        res = r.claim(url, pin, at=at(1), by=f"app:{i}")
        with lock:
            results.append(res)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in regs:
        r.close()
    assert sum(r.ok for r in results) == 1
    assert sorted(r.result for r in results) == ["already_claimed"] * (n - 1) + ["ok"]
    st = reg.status(url)
    assert st.claim == "claimed" and st.attempts == n


# ----------------------------------------------------------------------------------------
# codes
# ----------------------------------------------------------------------------------------
def test_resolve_every_code_form(reg: Registry, batch: af.Batch, plain: af.Batch,
                                 ring: af.Keyring) -> None:
    s = batch[12]
    url = s.url(BASE)
    forms = [url, url.split("://", 1)[1], s.number, s.number.replace("-", "").lower(), s,
             s.epc, gs1.sgtin_urn(PRODUCT.gtin, s.epc.rsplit("/", 1)[1], 7),
             af.verify(s.number, ring).stamp, s.epc.replace("https", "http")]
    for f in forms:
        assert reg.resolve(f) == s.epc, f
    p = plain[4]
    for f in [p.url(BASE), p.code, p.code.lower(), p.number, p, p.epc, p.url(BASE).encode()]:
        assert reg.resolve(f) == p.epc, f
    assert reg.status(p.code).epc == p.epc


def test_resolve_refuses_unknown_and_forged(reg: Registry, key: af.IssuerKey,
                                            batch: af.Batch, db: Path | str) -> None:
    other = af.issue(key, 2, at=T0)[0]  # authentic, never registered
    with pytest.raises(UnknownStampError, match="not registered"):
        reg.resolve(other.url(BASE))
    with pytest.raises(UnknownStampError, match="not registered"):
        reg.resolve(other)
    with pytest.raises(UnknownStampError, match="unknown EPC"):
        reg.resolve("urn:epc:id:sgtin:0614141.107346.999")
    code = af.issue(key, 1, at=T0)[0].code  # authentic, then one symbol changed
    forged = code[:60] + ("A" if code[60] != "A" else "B") + code[61:]
    with pytest.raises(UnknownStampError, match="BAD_SIGNATURE|MALFORMED"):
        reg.resolve(forged)
    num = batch[0].number
    typo = num[:3] + ("0" if num[3] != "0" else "1") + num[4:]
    with pytest.raises(UnknownStampError, match="BAD_CHECK_CHARACTER"):
        reg.resolve(typo)
    for junk in ["", "hello", "x" * 5000, b"\xff", 42, None]:
        with pytest.raises(UnknownStampError):
            reg.resolve(junk)
    with Registry(db) as no_keys:
        with pytest.raises(UnknownStampError, match="UNKNOWN_KEY"):
            no_keys.resolve(batch[0].url(BASE))
        assert no_keys.resolve(batch[0]) == batch[0].epc  # Stamps and EPCs need no key


def test_verify_with_registry_state(reg: Registry, batch: af.Batch, key: af.IssuerKey
                                    ) -> None:
    pins = batch.pins()
    assert reg.verify(batch[0].url(BASE)).status == Status.AUTHENTIC
    for i, reason, status in [(1, "destroyed", Status.DECOMMISSIONED),
                              (2, "recalled", Status.RECALLED),
                              (3, "stolen", Status.STOLEN), (4, "sold", Status.DECOMMISSIONED)]:
        reg.decommission([batch[i]], reason=reason, by="MFR-01", at=at(1))
        v = reg.verify(batch[i].url(BASE))
        assert v.status == status and not v.ok and reason in v.reason
        assert reg.verify(batch[i].number).status == status
        assert v.stamp is not None and v.stamp.index == i
    reg.claim(batch[5], pins[5], at=at(1))
    assert reg.verify(batch[5].url(BASE)).status == Status.ALREADY_CLAIMED
    reg.reactivate(batch[4], by="MFR-01", at=at(2))
    assert reg.verify(batch[4].url(BASE)).ok
    unregistered = af.issue(key, 1, at=T0)[0]
    v = reg.verify(unregistered.url(BASE))
    assert v.ok and "not registered" in v.reason
    code = batch[6].url(BASE)
    i = len(BASE) + 40
    forged = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1:]
    assert reg.verify(forged).status in (Status.BAD_SIGNATURE, Status.MALFORMED)


def test_flagged_copies_verify_as_suspected_clone(reg: Registry, batch: af.Batch,
                                                  db: Path | str, ring: af.Keyring) -> None:
    ev = reg.record(Event.scan(batch[3], by="app:1", at=at(1), lat=21.03, lon=105.85))
    alerts = [
        Alert("impossible_travel", [batch[3].epc], 0.7, [ev], first_seen=at(1)),
        Alert("impossible_travel", [batch[4].epc], 0.3, [ev], first_seen=at(1)),  # weak
        Alert("unauthorized_seller", [batch[5].epc], 0.9, [ev], first_seen=at(1)),  # no copy
        Alert("over_scanned", ["urn:epc:id:sgtin:0614141.107346.999"], 0.9, [ev],
              first_seen=at(1)),  # not held here: skipped
    ]
    assert reg.flag_suspected(alerts) == 1
    v = reg.verify(batch[3].url(BASE))
    assert v.status == Status.SUSPECTED_CLONE and not v.ok
    assert "impossible_travel" in v.reason and "0.70" in v.reason
    assert v.stamp is not None and v.stamp.index == 3
    assert reg.verify(batch[3].number).status == Status.SUSPECTED_CLONE
    assert reg.status(batch[3]).suspected == "impossible_travel"
    for i in (4, 5, 6):
        assert reg.verify(batch[i].url(BASE)).status == Status.AUTHENTIC
        assert reg.status(batch[i]).suspected is None
    # the strongest alert is kept
    reg.flag_suspected([Alert("over_scanned", [batch[3].epc], 0.6, [ev], first_seen=at(2))])
    assert reg.status(batch[3]).suspected == "impossible_travel"
    reg.flag_suspected([Alert("duplicate_listing", [batch[3].epc], 0.95, [ev],
                              first_seen=at(2))])
    assert reg.status(batch[3]).suspected == "duplicate_listing"
    assert set(reg.suspected()) == {batch[3].epc}
    assert reg.suspected()[batch[3].epc][:2] == ("duplicate_listing", 0.95)
    listing = reg.check_listing(batch[3], seller="MFR-01")  # the custodian, but copies exist
    assert not listing.ok and "copies of this code" in listing.reasons[-1]
    assert reg.check_listing(batch[6], seller="MFR-01").ok
    bulk = check_listings(reg, [batch[3], batch[6]], "MFR-01")
    assert bulk.ok.tolist() == [False, True]
    assert bulk.flags[0] == LISTING_FLAGS["suspected_clone"]
    # kept across processes; cleared by an inspector; precedence below a claim
    with Registry(db, keyring=ring) as other:
        assert other.verify(batch[3].url(BASE)).status == Status.SUSPECTED_CLONE
        assert other.clear_suspected(batch[3].url(BASE)) == 1
        assert other.clear_suspected([batch[3]]) == 0
    assert reg.verify(batch[3].url(BASE)).status == Status.AUTHENTIC
    reg.flag_suspected(alerts)
    reg.claim(batch[3], batch.pins()[3], at=at(3))
    assert reg.verify(batch[3].url(BASE)).status == Status.ALREADY_CLAIMED
    assert reg.flag_suspected([]) == 0
    for junk in (["impossible_travel"], [None], [{"kind": "over_scanned"}]):
        with pytest.raises(RegistryError, match="alerts"):
            reg.flag_suspected(junk)  # type: ignore[arg-type]
    for bad in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(RegistryError, match="min_score"):
            reg.flag_suspected(alerts, min_score=bad)  # type: ignore[arg-type]
    with pytest.raises(UnknownStampError):
        reg.clear_suspected("not a code")


def test_detection_then_flag_catches_a_copied_code(reg: Registry, batch: af.Batch) -> None:
    """One code scanned in Hanoi and, 30 minutes later, in Ho Chi Minh City (1,140 km)."""
    s = batch[7]
    reg.record(Event.scan(s, by="app:4f2a", at=at(2), lat=21.03, lon=105.85))
    reg.record(Event.scan(s, by="app:91c0", at=at(2, seconds=1800), lat=10.77, lon=106.70))
    alerts = af.detect(reg)
    travel = [a for a in alerts if a.kind == "impossible_travel" and s.epc in a.codes]
    assert travel and travel[0].score >= 0.5
    assert reg.verify(s.url(BASE)).status == Status.AUTHENTIC  # detection alone changes nothing
    assert reg.flag_suspected(alerts) >= 1
    assert reg.verify(s.url(BASE)).status == Status.SUSPECTED_CLONE
    assert reg.verify(batch[8].url(BASE)).status == Status.AUTHENTIC


def test_detection_over_a_registry_undoes_a_phone_clock_by_record_times(
        reg: Registry, batch: af.Batch) -> None:
    """The owner scans in Ho Chi Minh City; 90 minutes later a copy is scanned in Hanoi
    (1,140 km: no trip is that fast) by a phone whose clock runs 2 h ahead, so its event says
    3.5 h later (a flight fits). The registry records the copy's scan when it arrives, before
    the time its phone claims: detection over the registry corrects that clock."""
    s = batch[11]
    now = datetime.now(UTC)
    reg.record(Event.scan(s, by="app:owner", at=now - timedelta(minutes=90), lat=10.77,
                          lon=106.70))
    reg.record(Event.scan(s, by="app:copy", at=now + timedelta(hours=2), lat=21.03,
                          lon=105.85))
    cols = reg.columns()
    assert len(cols.ev_record) == len(cols.ev_ids)
    data = TraceData.from_registry(reg)
    copy = data.party_index("app:copy")
    off_h = data.clock_offsets_us[copy] / 3.6e9
    assert -2.01 < off_h < -1.99  # the record before the claimed time proves the clock ahead
    assert data.clock_offsets_us[data.party_index("app:owner")] == 0  # one late record: kept
    travel = [a for a in af.detect(reg) if a.kind == "impossible_travel" and s.epc in a.codes]
    assert travel and travel[0].score >= 0.5


def test_schema_1_registry_is_migrated_on_open(backend: str, db: Path | str, ring: af.Keyring,
                                               batch: af.Batch,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from antifake.storage import sqlite as sqlite_mod

    if backend == "sqlite":
        monkeypatch.setattr(sqlite_mod, "SCHEMA_VERSION", 1)
    else:
        from antifake.storage import postgres as pg_mod

        monkeypatch.setattr(pg_mod, "SCHEMA_VERSION", 1)
    with Registry(db, keyring=ring) as old:  # written by a version knowing schema 1 only
        old.add_party("MFR-01", role="manufacturer")
        with pytest.raises(RegistryError):  # no table for it yet
            old.storage.put_suspicions([])
            old.storage.suspicions()
    monkeypatch.undo()
    with Registry(db, keyring=ring) as new:
        new.register(batch, owner="MFR-01", at=T0)
        assert new.stats()["stamps"] == 40 and new.stats()["parties"] >= 1
        assert new.flag_suspected([Alert("over_scanned", [batch[0].epc], 0.9, [],
                                         first_seen=at(1))]) == 1
        assert new.verify(batch[0].url(BASE)).status == Status.SUSPECTED_CLONE
    with Registry(db, keyring=ring) as again:  # already current: opened as it is
        assert again.status(batch[0]).suspected == "over_scanned"


def test_schema_2_registry_gets_its_detail_codes_on_open(backend: str, db: Path | str,
                                                         issuer_ring: af.Keyring,
                                                         batch: af.Batch) -> None:
    """Schema 3 stores each event's detail code when it is written; a registry written before
    gets the codes of its claims and decommissionings once, when it is opened."""
    pins = batch.pins()
    with Registry(db, keyring=issuer_ring) as reg:
        reg.add_party("MFR-01", role="manufacturer")
        reg.register(batch, owner="MFR-01", at=T0)
        reg.claim(batch[1], pins[1], at=at(1))
        reg.claim(batch[2], "0" * 9, at=at(1))  # a wrong PIN
        reg.decommission([batch[3]], reason="stolen", by="MFR-01", at=at(2))
        want = reg.columns().ev_detail.copy()
        assert sorted(want[want > 0].tolist()) == sorted(
            [CLAIM_DETAILS["ok"], CLAIM_DETAILS["wrong_pin"], REASON_DETAILS["stolen"]])
        if backend == "sqlite":  # what a schema-2 file looks like
            with reg.storage.transaction():
                _pack_columns_as_schema_4(reg.storage)
                reg.storage._db.execute("DROP TABLE party_glns")  # type: ignore[attr-defined]
                reg.storage._db.execute("ALTER TABLE events DROP COLUMN detail")  # type: ignore[attr-defined]
                reg.storage._db.execute("PRAGMA user_version = 2")  # type: ignore[attr-defined]
        else:
            with reg.storage.transaction():
                _pack_columns_as_schema_4(reg.storage)
                reg.storage._db.execute("DROP TABLE party_glns")  # type: ignore[attr-defined]
                reg.storage._db.execute("ALTER TABLE events DROP COLUMN detail")  # type: ignore[attr-defined]
                reg.storage._db.execute(  # type: ignore[attr-defined]
                    "UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with Registry(db, keyring=issuer_ring) as reg:
        assert np.array_equal(reg.columns().ev_detail, want)


def _pack_columns_as_schema_4(storage: Any) -> None:
    """Rewrite the packed event rows as schema 4 wrote them (no record times)."""
    from antifake.storage._packed import _pack, _unpack
    from antifake.storage._upgrade import EV_DTYPE_V4
    from antifake.storage.abc import EV_DTYPE

    for cid, n, blob in storage._x("SELECT id, n_events, events FROM columns").fetchall():
        cur = _unpack(bytes(blob), EV_DTYPE, int(n))
        old = np.empty(int(n), dtype=EV_DTYPE_V4)
        for name in EV_DTYPE_V4.names:
            old[name] = cur[name]
        storage._x("UPDATE columns SET events = ? WHERE id = ?", (_pack(old), int(cid)))


def test_schema_4_registry_gets_record_times_in_its_columns_on_open(
        backend: str, db: Path | str, ring: af.Keyring, batch: af.Batch) -> None:
    """Schema 5 keeps each event's record time beside its event time in the packed columns
    (detection corrects phone clocks with it); a registry written before gets them from its
    events table once, when it is opened."""
    with Registry(db, keyring=ring) as reg:
        reg.add_party("MFR-01", role="manufacturer")
        reg.register(batch, owner="MFR-01", at=T0)
        for k in range(5):
            reg.record(Event.scan(batch[k], by=f"app:{k}", at=at(2 + k), lat=21.0, lon=105.8))
        cols = reg.columns()
        want_time, want_rec = cols.ev_time.copy(), cols.ev_record.copy()
        assert len(want_rec) == len(cols.ev_ids) == 6 and (want_rec > 0).all()
        assert not np.array_equal(want_rec, want_time)  # recorded now, happened at T0 + k days
        with reg.storage.transaction():
            _pack_columns_as_schema_4(reg.storage)
            if backend == "sqlite":
                reg.storage._db.execute("PRAGMA user_version = 4")  # type: ignore[attr-defined]
            else:
                reg.storage._db.execute(  # type: ignore[attr-defined]
                    "UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    with Registry(db, keyring=ring) as reg:
        cols = reg.columns()
        assert np.array_equal(cols.ev_time, want_time)
        assert np.array_equal(cols.ev_record, want_rec)
        reg.record(Event.scan(batch[9], by="app:9", at=at(9), lat=21.0, lon=105.8))
        assert len(reg.columns().ev_record) == 7 and reg.check()["ok"]


# ----------------------------------------------------------------------------------------
# parties, stats, graph
# ----------------------------------------------------------------------------------------
def test_add_party_and_stats(reg: Registry) -> None:
    s = reg.stats()
    assert s["stamps"] == 70 and s["parties"] == 3 and s["events"] == 2
    reg.add_party("MFR-01", lat=20.0)  # update: other fields kept
    rows = reg.storage.party_rows()  # type: ignore[attr-defined]
    assert rows[0] == ("MFR-01", "manufacturer", "VN-HN", 20.0, 105.85)
    assert reg.stats()["parties"] == 3
    for bad in [dict(id=""), dict(id="X", lat=91), dict(id="X", lon="e"), dict(id=3)]:
        with pytest.raises(RegistryError):
            reg.add_party(**bad)  # type: ignore[arg-type]


def test_graph_follows_the_supply_chain(reg: Registry, batch: af.Batch) -> None:
    items = [batch[i] for i in range(10)]
    case = "urn:epc:id:sscc:0614141.0000000007"
    pallet = "urn:epc:id:sscc:0614141.0000000008"
    reg.record_many([
        Event.aggregate(case, items, by="MFR-01", at=at(1)),
        Event.aggregate(pallet, [case], by="MFR-01", at=at(1, 60)),
        Event.ship([pallet], source="MFR-01", destination="DIST-07", at=at(2)),
    ])
    g = reg.graph()
    assert g.custodian(items[0].epc) == "MFR-01"
    assert set(g.contents(pallet).tolist()) == {gs1.canonical_gs1_uri(case)} | \
        {s.epc for s in items}
    reg.record(Event.receive([pallet], by="DIST-07", at=at(3)))
    reg.record(Event.disaggregate(pallet, by="DIST-07", at=at(3, 60)))
    reg.record(Event.sell([items[0]], by="DIST-07", at=at(4)))
    g = reg.graph()
    assert g.custodian(items[1].epc) == "DIST-07"
    assert g.custodian(items[0].epc) is None
    assert g.custody_chain(items[1].epc) == ["MFR-01", "DIST-07"]
    assert g.containers(items[1].epc) == [gs1.canonical_gs1_uri(case)]
    assert g.contents(pallet).tolist() == []
    assert len(g.history(items[1].epc)) == 6  # commission, pack, (pallet: pack, ship,
    # receive, unpack) -> own 2 + case's pallet pack..unpack 4
    assert g.stats()["events"] == reg.stats()["events"]
    # the same history as events: own and inherited, in time order, with ids and parties
    hist = reg.history(items[1])
    assert [e.event_id for e in hist] == g.history_ids(items[1].epc)
    assert [event_kind(e) for e in hist] == [
        EventKind.COMMISSION, EventKind.AGGREGATE, EventKind.AGGREGATE, EventKind.SHIP,
        EventKind.RECEIVE, EventKind.DISAGGREGATE]
    assert [e.time for e in hist] == sorted(e.time for e in hist)
    assert hist[3].source == "MFR-01" and hist[3].destination == "DIST-07"
    assert items[1].epc in hist[0].epcs  # a registered batch's commissioning lists its stamps
    assert reg.history(items[1].url(BASE)) == hist  # any code form
    ids = [e.event_id for e in hist]
    assert reg.events(ids[::-1]) == hist[::-1]
    with pytest.raises(RegistryError, match="no event"):
        reg.events([ids[0][:-20] + ("0" if ids[0][-20] != "0" else "1") + ids[0][-19:]])
    with pytest.raises(RegistryError):
        reg.events(["not an id"])


def test_column_chunks_stay_few_and_graph_matches(reg: Registry, batch: af.Batch) -> None:
    for i in range(200):
        reg.record(Event.scan(batch[i % 40], by=f"app:{i}", at=at(1, i)))
    with reg.storage.snapshot():
        rows = reg.storage._db.execute(  # type: ignore[attr-defined]
            "SELECT n_events + n_inc FROM columns ORDER BY id").fetchall()
    sizes = [r[0] for r in rows]
    assert len(sizes) <= 12
    assert all(a > 2 * b or a + b > CHUNK_CAP for a, b in zip(sizes, sizes[1:]))
    g = reg.graph()
    assert g.n_events == 202
    assert len(g.history(batch[0].epc)) == 1 + 5
    assert reg.check()["ok"]


def test_graph_of_an_empty_registry(new_db: NewDb) -> None:
    with Registry(new_db("e.db")) as reg:
        g = reg.graph()
        assert g.n_nodes == 0 and g.n_events == 0
        assert reg.stats() == {"events": 0, "stamps": 0, "parties": 0, "nodes": 0,
                               "batches": 0}


# ----------------------------------------------------------------------------------------
# files, schema, URLs
# ----------------------------------------------------------------------------------------
@sqlite_only
def test_schema_version_and_meta(db: Path) -> None:
    with Registry(db) as reg:
        assert isinstance(reg.storage, Storage)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert meta["format"] == "antifake-registry"
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(RegistryError, match="newer"):
        Registry(db)


def test_refuses_foreign_databases(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    with pytest.raises(RegistryError, match="not an antifake registry"):
        Registry(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RegistryError):
        Registry(junk)
    with pytest.raises(RegistryError, match="directory"):
        Registry(tmp_path / "missing" / "x.db")
    with pytest.raises(RegistryError):
        Registry("ftp://x/y")


def test_urls_memory_and_reopen(tmp_path: Path, ring: af.Keyring, batch: af.Batch) -> None:
    with Registry(":memory:", keyring=ring) as mem:
        mem.register(batch, owner="MFR-01", at=T0)
        assert mem.resolve(batch[0].number) == batch[0].epc
    path = tmp_path / "u.db"
    with Registry(f"sqlite:///{path}?synchronous=normal", keyring=ring) as r:
        r.register(batch, owner="MFR-01", at=T0)
    with Registry(path, keyring=ring) as r:  # reopened: same data, no migration needed
        assert r.stats()["stamps"] == 40
        assert r.status(batch[39]).registered
    with pytest.raises(RegistryError):
        SQLiteStorage(path, synchronous="off")


@sqlite_only
def test_a_writer_waits_for_another(db: Path, reg: Registry, batch: af.Batch) -> None:
    """BEGIN IMMEDIATE queues writers (busy timeout) rather than failing."""
    other = Registry(db, timeout=0.2)
    try:
        with reg.storage.transaction(), pytest.raises(RegistryError, match="busy"):
            other.record(Event.scan(batch[0], by="app:1", at=at(1)))
        other.record(Event.scan(batch[0], by="app:1", at=at(1)))
    finally:
        other.close()
    assert reg.status(batch[0]).last_event_time == at(1)


def test_check_listing(reg: Registry, batch: af.Batch, key: af.IssuerKey) -> None:
    s = batch[20]
    ok = reg.check_listing(s.url(BASE), seller="MFR-01")
    assert ok.ok and ok.reasons == [] and ok.custodian == "MFR-01" and ok.epc == s.epc
    bad = reg.check_listing(s.url(BASE), seller="SHOP-42")
    assert not bad and "custodian is MFR-01" in bad.reasons[0]
    n = reg.stats()["events"]
    reg.record(Event.ship([s], source="MFR-01", destination="RET-03", at=at(1)))
    assert reg.check_listing(s, seller="MFR-01").ok  # in transit: the source holds it
    reg.record(Event.receive([s], by="RET-03", at=at(2)))
    assert reg.check_listing(s.number, seller="RET-03").ok  # the cached graph was rebuilt
    assert not reg.check_listing(s, seller="MFR-01").ok
    reg.claim(s, batch.pins()[20], at=at(3))
    claimed = reg.check_listing(s, seller="RET-03")
    assert not claimed.ok and "claimed" in claimed.reasons[0]
    reg.decommission([batch[21]], reason="stolen", by="MFR-01", at=at(3))
    assert "decommissioned (stolen)" in reg.check_listing(batch[21], seller="MFR-01").reasons[0]
    forged = reg.check_listing(af.issue(key, 1, at=T0)[0].url(BASE), seller="MFR-01")
    assert not forged.ok and "not registered" in forged.reasons[0]
    assert reg.stats()["events"] == n + 4  # ship, receive, claim, decommission: no more


def test_register_needs_an_owner_and_status_of_containers(db: Path, ring: af.Keyring,
                                                           plain: af.Batch) -> None:
    with Registry(db, keyring=ring) as reg:
        with pytest.raises(RegistryError, match="owner"):
            reg.register(plain, at=T0)
        assert reg.register(plain, "MFR-01") == 30  # at: now
        assert reg.stats()["events"] == 1
        case = "urn:epc:id:sscc:0614141.0000000099"
        eid = reg.record(Event.aggregate(case, [plain[0]], by="MFR-01", at=at(1)))
        st = reg.status(case)  # any stored EPC has a status
        assert not st.registered and st.active and st.last_event_id == eid
        reg.decommission(case, reason="destroyed", by="MFR-01", at=at(2))
        assert reg.status(case).reason == "destroyed"
        with pytest.raises(UnknownStampError, match="not a registered stamp"):
            reg.claim(case, "000-000-000")


# ----------------------------------------------------------------------------------------
# claims come only from the PIN check or from parties trusted for claims
# ----------------------------------------------------------------------------------------
def _claim_doc(epc: str, by: str, result: bool | str, days: float) -> str:
    return dumps([af.Event.claim(epc, by=by, at=at(days), ok=result)])


def test_imported_claim_of_an_untrusted_party_marks_nothing(reg: Registry,
                                                            batch: af.Batch) -> None:
    s, pins = batch[5], batch.pins()
    # an unknown party and a known but untrusted one claim the stamp by import, and try to
    # lock it with wrong PINs
    for i, who in enumerate(["shop:unknown", "RET-03"]):
        res = reg.import_epcis(_claim_doc(s.epc, who, True, 1 + i))
        assert res.new == 1  # stored as an event
        for k in range(6):
            reg.import_epcis(_claim_doc(s.epc, who, False, 2 + i + k / 100))
    reg.record(af.Event.claim(s.epc, by="RET-03", at=at(3), ok=True))
    st = reg.status(s)
    assert st.claim == "unclaimed" and st.wrong_pins == 0
    assert reg.verify(s.url(BASE)).status == Status.AUTHENTIC
    assert len(claim_events(reg, s.epc)) == 15
    # the genuine buyer's PIN claim still wins
    r = reg.claim(s.url(BASE), pins[5], at=at(4))
    assert r.ok and reg.status(s).claim == "claimed"


def test_imported_claim_of_a_trusted_party_counts(reg: Registry, batch: af.Batch) -> None:
    s, t = batch[6], batch[7]
    reg.add_party("svc:issuer-app", role="verifier", trusted_for_claims=True)
    assert reg.claim_parties() == frozenset({"svc:issuer-app"})
    reg.import_epcis(_claim_doc(s.epc, "svc:issuer-app", True, 1))
    assert reg.status(s).claim == "claimed"
    assert reg.verify(s.url(BASE)).status == Status.ALREADY_CLAIMED
    reg.add_party("RET-03", trusted_for_claims=False)  # no change for others
    reg.add_party("svc:issuer-app", role="verifier")  # None: trust kept
    assert reg.claim_parties() == frozenset({"svc:issuer-app"})
    # an export of another registry: its claims count only when the importer says so
    doc = _claim_doc(t.epc, "app:elsewhere", True, 1.5)
    reg.import_epcis(doc)
    assert reg.status(t).claim == "unclaimed"
    reg.add_party("svc:issuer-app", trusted_for_claims=False)  # withdrawn
    reg.import_epcis(_claim_doc(t.epc, "svc:issuer-app", True, 2))
    assert reg.status(t).claim == "unclaimed"
    with pytest.raises(af.RegistryError):
        reg.add_party("x", trusted_for_claims="yes")  # type: ignore[arg-type]
