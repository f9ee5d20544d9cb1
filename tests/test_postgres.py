"""The PostgreSQL registry backend: the registry's behaviours (idempotency, atomic
``record_many``, lifecycle rules, claims, EPCIS round trips) and graph columns equal to
SQLite's for the same events; schema versions; what many writers change (ids, chunk order,
lock waits).

Needs a server: ``ANTIFAKE_PG_URL``, or one started here (see ``tests/pg_server.py``); skipped
without one, failed under ``CI``. Each test works in a fresh PostgreSQL schema."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import antifake as af
import pg_server
import test_registry as shared
from antifake.epcis.events import Event
from antifake.errors import EPCISError, LifecycleError, RegistryError, UnknownStampError
from antifake.registry import MAX_WRONG_PINS, Registry
from antifake.storage import SCHEMA_VERSION, Storage, TraceColumns
from antifake.verify import Status

try:
    import psycopg
except ImportError:  # under CI the tests fail instead, through the pg fixture (pg_server)
    psycopg = None
    if not os.environ.get("CI"):
        pytest.skip("psycopg is not installed (pip install 'antifake[postgres]')",
                    allow_module_level=True)
from antifake.storage.postgres import PG_CHUNK_CAP, PostgresStorage  # noqa: E402

# the registry suite's stamps and keys (conftest's `key`), so both files test the same data
BASE, T0, at = shared.BASE, shared.T0, shared.at
ring, batch, plain = shared.ring, shared.batch, shared.plain


@pytest.fixture(scope="session")
def pg() -> str:
    return pg_server.require_pg_url()


@pytest.fixture
def url(pg: str):
    u = pg_server.fresh_schema_url(pg)
    yield u
    pg_server.drop_schema(u)


def setup_registry(r: Registry, batch: af.Batch, plain: af.Batch) -> Registry:
    r.add_party("MFR-01", role="manufacturer", region="VN-HN", lat=21.03, lon=105.85)
    r.add_party("DIST-07", role="distributor", region="VN-SG")
    r.add_party("RET-03", role="retailer", region="VN-SG")
    r.register(batch, owner="MFR-01", at=T0)
    r.register(plain, owner="MFR-01", at=T0)
    return r


@pytest.fixture
def reg(url: str, ring: af.Keyring, batch: af.Batch, plain: af.Batch):
    r = setup_registry(Registry(url, keyring=ring), batch, plain)
    yield r
    r.close()


def supply_chain(batch: af.Batch, plain: af.Batch) -> list[Event]:
    """A small chain: packing, shipping, receipt, unpacking, sales, scans, a listing."""
    case, pallet = "urn:antifake:case:1", "urn:antifake:pallet:1"
    items = [batch[i] for i in range(10)]
    ev = [
        Event.aggregate(case, items, by="MFR-01", at=at(0, 10)),
        Event.aggregate(pallet, [case, plain[0]], by="MFR-01", at=at(0, 20)),
        Event.ship([pallet], source="MFR-01", destination="DIST-07", at=at(1)),
        Event.receive([pallet], by="DIST-07", at=at(2)),
        Event.disaggregate(pallet, by="DIST-07", at=at(2, 60)),
        Event.ship([case], source="DIST-07", destination="RET-03", at=at(3)),
        Event.receive([case], by="RET-03", at=at(4)),
        Event.sell([items[0]], by="RET-03", at=at(5)),
        Event.list(items[1], seller="SHOP-42", at=at(5, 30), listing="https://shop.example/1"),
    ]
    ev += [Event.scan(items[i % 10], by=f"app:{i}", at=at(6, i), lat=10.77 + i / 100,
                      lon=106.7) for i in range(30)]
    return ev


def n_events(r: Registry) -> int:
    return r.stats()["events"]


# ----------------------------------------------------------------------------------------
# the registry's behaviours on PostgreSQL
# ----------------------------------------------------------------------------------------
def test_is_a_storage_with_versioned_schema(reg: Registry, url: str) -> None:
    assert isinstance(reg.storage, PostgresStorage) and isinstance(reg.storage, Storage)
    with psycopg.connect(url.split("?")[0]) as c:
        schema = url.split("schema=")[1]
        meta = dict(c.execute(f'SELECT key, value FROM "{schema}".meta').fetchall())
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert meta["format"] == "antifake-registry" and meta["backend"] == "postgresql"
    assert reg.check()["ok"]


def test_record_many_is_atomic(reg: Registry, batch: af.Batch) -> None:
    stats = reg.stats()
    good = [Event.scan(batch[i], by="app:1", at=at(1, i)) for i in range(4)]
    bad = {"type": "ObjectEvent", "action": "OBSERVE", "epcList": [batch[0].epc],
           "eventTimeZoneOffset": "+00:00"}  # no eventTime
    with pytest.raises(EPCISError, match=r"\$\[2\]"):
        reg.record_many(good[:2] + [bad] + good[2:])
    assert reg.stats() == stats
    reg.decommission([batch[5]], reason="stolen", by="RET-03", at=at(1))
    n = n_events(reg)
    big = [Event.scan(f"urn:antifake:new:{i}", by=f"app:new{i}", at=at(1, i)) for i in range(200)]
    with pytest.raises(LifecycleError, match="stolen"):  # after 200 new nodes and parties
        reg.record_many(big + [Event.reactivate(batch[5], by="RET-03", at=at(2))] + good)
    assert n_events(reg) == n
    assert reg.stats()["nodes"] == stats["nodes"] and reg.stats()["parties"] == stats["parties"]
    with pytest.raises(UnknownStampError):
        reg.resolve("urn:antifake:new:0")
    assert reg.record_many(big + good).new == 204
    assert reg.check()["ok"]


def test_lifecycle_rules(reg: Registry, batch: af.Batch) -> None:
    s = batch[3]
    reg.decommission([s], reason="sold", by="RET-03", at=at(1))
    st = reg.status(s)
    assert st.state == "decommissioned" and st.reason == "sold"
    assert reg.verify(s.url(BASE)).status == Status.DECOMMISSIONED
    with pytest.raises(LifecycleError, match="already"):
        reg.decommission([s, batch[4]], reason="sold", by="RET-03", at=at(1, 5))
    assert reg.status(batch[4]).state == "active"  # nothing changed
    reg.reactivate(s, by="RET-03", at=at(3))
    assert reg.status(s).active
    reg.decommission([s], reason="exported", by="RET-03", at=at(4))
    with pytest.raises(LifecycleError, match="10-day"):
        reg.reactivate(s, by="RET-03", at=at(15))
    reg.decommission([batch[7]], reason="stolen", by="RET-03", at=at(1))
    with pytest.raises(LifecycleError, match="never"):
        reg.reactivate(batch[7], by="RET-03", at=at(1, 60))
    assert reg.verify(batch[7].url(BASE)).status == Status.STOLEN
    # recorded lifecycle events update the state too
    reg.record(Event.decommission([batch[8].epc], reason="recalled", by="MFR-01", at=at(2)))
    assert reg.verify(batch[8].number).status == Status.RECALLED


def test_claims(reg: Registry, batch: af.Batch) -> None:
    pins = batch.pins(grouped=False)
    r1 = reg.claim(batch[4].url(BASE), pins[4], at=at(1), lat=10.77, lon=106.7, by="app:1")
    assert r1.ok and r1.claim == "claimed" and r1.claimed_at == at(1)
    r2 = reg.claim(batch[4].number, pins[4], at=at(2))
    assert not r2.ok and r2.status == Status.ALREADY_CLAIMED
    s, wrong = batch[6], pins[7]
    typo = reg.claim(s, pins[6][:-1] + ("0" if pins[6][-1] != "0" else "1"), at=at(1))
    assert typo.result == "mistyped" and typo.wrong_pins == 0
    for k in range(MAX_WRONG_PINS):
        r = reg.claim(s, wrong, at=at(1))  # same time: af:attempt keeps them apart
        assert r.result == "wrong_pin" and r.wrong_pins == k + 1
    assert r.claim == "locked"
    assert reg.claim(s, pins[6], at=at(2)).result == "locked"
    st = reg.status(s)
    assert st.claim == "locked" and st.attempts == 1 + MAX_WRONG_PINS + 1
    reg.decommission([batch[8]], reason="recalled", by="MFR-01", at=at(1))
    assert reg.claim(batch[8], pins[8], at=at(2)).status == Status.RECALLED


def test_a_claim_waits_for_another_on_the_same_stamp(url: str, reg: Registry,
                                                     ring: af.Keyring,
                                                     batch: af.Batch) -> None:
    """Row locks: a claim on a stamp whose row another transaction holds waits (then fails
    as "busy" after the timeout); writers touching other rows do not wait at all."""
    other = Registry(url + "&timeout=0.3", keyring=ring)
    node = reg.storage.node_by_key(batch[2].epc)
    try:
        with reg.storage.transaction():
            reg.storage.states([node])  # holds the stamp's row
            with pytest.raises(RegistryError, match="busy"):
                other.claim(batch[2], batch.pins()[2], at=at(1))
            other.record(Event.scan(batch[2], by="app:9", at=at(1)))  # no wait: no conflict
            other.claim(batch[3], batch.pins()[3], at=at(1))  # another stamp: no wait
        assert other.claim(batch[2], batch.pins()[2], at=at(1)).ok
    finally:
        other.close()


def test_register_and_import_name_the_same_stamp(reg: Registry, key: af.IssuerKey) -> None:
    b = af.issue(key, 5000, at=T0)  # the COPY path
    pre = Event.scan(b[17].epc, by="app:early", at=at(-1))
    reg.record(pre)  # an imported event named a stamp before its batch was registered
    assert reg.register(b, owner="MFR-01", at=T0) == 5000
    assert reg.register(b, owner="MFR-01", at=T0) == 0
    assert reg.status(b[17]).registered
    g = reg.graph()
    assert [g.event_ids[i] for i in g.history(b[17].epc)][0] == pre.event_id
    assert reg.check()["ok"]
    with pytest.raises(RegistryError, match="different stamps"):
        reg.register(_clash(key, b), owner="MFR-01", at=T0)


def _clash(key: af.IssuerKey, b: af.Batch) -> af.Batch:
    """Another batch claiming ``b``'s batch id (indices overlap, stamps differ)."""
    other = af.issue(key, 10, at=T0)
    other.batch_id = b.batch_id  # type: ignore[misc]
    return other


def test_export_import_round_trip_between_backends(tmp_path: Path, reg: Registry,
                                                   ring: af.Keyring, batch: af.Batch,
                                                   plain: af.Batch, url: str) -> None:
    reg.record_many(supply_chain(batch, plain))
    reg.claim(batch[20], batch.pins()[20], at=at(7))
    reg.decommission([batch[21]], reason="destroyed", by="MFR-01", at=at(7))
    out = tmp_path / "pg.jsonld"
    n = reg.export_epcis(out)
    assert n == n_events(reg)
    with Registry(tmp_path / "copy.db", keyring=ring) as lite:
        res = lite.import_epcis(out, trust_claims=True)  # our own export
        assert res.new == n
        assert lite.status(batch[20].epc).claim == "claimed"  # EPCs: no batch registered
        assert lite.status(batch[21].epc).reason == "destroyed"
        back = tmp_path / "lite.jsonld"
        lite.export_epcis(back)
    events = json.loads(out.read_text())["epcisBody"]["eventList"]
    again = json.loads(back.read_text())["epcisBody"]["eventList"]
    assert [e["eventID"] for e in events] == [e["eventID"] for e in again]
    fresh = pg_server.fresh_schema_url(url.split("?")[0])
    try:
        with Registry(fresh, keyring=ring) as r2:
            assert r2.import_epcis(back, trust_claims=True).new == n
            assert r2.import_epcis(back).new == 0
            assert r2.status(batch[20].epc).claim == "claimed"
            since = tmp_path / "since.jsonld"
            assert r2.export_epcis(since, since=at(6)) == 30 + 2
    finally:
        pg_server.drop_schema(fresh)


def _same_columns(a: TraceColumns, b: TraceColumns) -> None:
    for k in a.__dataclass_fields__:
        if k == "version":  # each backend counts its own way
            continue
        if k == "ev_record":  # when each store wrote the events: its own clock
            assert len(a.ev_record) == len(b.ev_record) == len(a.ev_ids)
            assert (a.ev_record > 0).all() and (b.ev_record > 0).all()
            continue
        x, y = np.asarray(getattr(a, k)), np.asarray(getattr(b, k))
        assert x.dtype == y.dtype, k
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), k
        else:
            assert np.array_equal(x, y), k


def test_graph_columns_equal_sqlite_for_the_same_events(tmp_path: Path, reg: Registry,
                                                        ring: af.Keyring, batch: af.Batch,
                                                        plain: af.Batch) -> None:
    lite = setup_registry(Registry(tmp_path / "same.db", keyring=ring), batch, plain)
    try:
        for r in (reg, lite):
            r.record_many(supply_chain(batch, plain))
            r.claim(batch[20], batch.pins()[20], at=at(7), lat=10.0, lon=106.0)
            r.decommission([batch[21]], reason="destroyed", by="MFR-01", at=at(7))
            for i in range(100):  # many small transactions: chunk merging
                r.record(Event.scan(batch[i % 40], by=f"app:x{i}", at=at(8, i)))
        _same_columns(reg.storage.graph_columns(), lite.storage.graph_columns())
        g1, g2 = reg.graph(), lite.graph()
        epc = batch[0].epc
        assert g1.history(epc).tolist() == g2.history(epc).tolist()
        assert g1.custody_chain(epc) == g2.custody_chain(epc)
        assert reg.stats() == lite.stats()
        assert reg.check()["ok"] and lite.check()["ok"]
        for s in (batch[0], batch[20], batch[21], plain[0]):
            a, b = reg.status(s), lite.status(s)
            assert a == b
    finally:
        lite.close()


def test_detection_sees_the_same_registry(tmp_path: Path, reg: Registry, ring: af.Keyring,
                                          batch: af.Batch, plain: af.Batch) -> None:
    detect = pytest.importorskip("antifake.detect")
    lite = setup_registry(Registry(tmp_path / "d.db", keyring=ring), batch, plain)
    try:
        for r in (reg, lite):
            r.record_many(supply_chain(batch, plain))
            r.record(Event.scan(batch[0], by="app:far", at=at(6, 40), lat=21.0, lon=105.8))
            wrong = batch.pins()[1]
            for _ in range(MAX_WRONG_PINS):
                r.claim(batch[30], wrong, at=at(7))
        a = [x.to_dict() for x in detect.detect(reg)]
        b = [x.to_dict() for x in detect.detect(lite)]
        assert a == b and any(x["kind"] == "claim_lockout" for x in a)
    finally:
        lite.close()


def test_writers_committing_out_of_id_order(url: str, reg: Registry, batch: af.Batch) -> None:
    """Ids are allocated before the commit: a transaction that commits later can hold
    smaller ids. The snapshot still lists events in id order, and versions change."""
    other = Registry(url)
    try:
        v0 = reg.storage.version()
        g0 = reg.graph()
        first = Event.scan(batch[0], by="app:a", at=at(1))
        second = Event.scan(batch[1], by="app:b", at=at(2))
        with reg.storage.transaction():
            reg.record(first)  # ids allocated now, committed last
            other.record(second)
        assert reg.storage.version() != v0
        cols = reg.storage.graph_columns()
        ids = list(cols.ev_ids[-2:])
        assert ids == [first.event_id, second.event_id]
        g = reg.graph()
        assert g.n_events == g0.n_events + 2
        assert reg.check()["ok"]
    finally:
        other.close()


def test_column_chunks_stay_small(reg: Registry, batch: af.Batch) -> None:
    for i in range(100):
        reg.record(Event.scan(batch[i % 40], by=f"app:{i}", at=at(1, i)))
    rows = reg.storage._all("SELECT n_events + n_inc FROM columns ORDER BY id")
    sizes = [int(r[0]) for r in rows]
    assert len(sizes) <= 12 and max(sizes) <= PG_CHUNK_CAP
    assert reg.graph().n_events == 102


def test_schema_versions_and_foreign_schemas(url: str, pg: str) -> None:
    with Registry(url) as r:
        assert r.stats()["events"] == 0
    with Registry(url) as r:  # reopened: no migration
        assert r.graph().n_events == 0
    schema = url.split("schema=")[1]
    with psycopg.connect(pg, autocommit=True) as c:
        c.execute(f"UPDATE \"{schema}\".meta SET value = '{SCHEMA_VERSION + 1}' "
                  "WHERE key = 'schema_version'")
    with pytest.raises(RegistryError, match="newer"):
        Registry(url)
    foreign = pg_server.fresh_schema_url(pg)
    fschema = foreign.split("schema=")[1]
    try:
        with psycopg.connect(pg, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{fschema}"')
            c.execute(f'CREATE TABLE "{fschema}".events (x int)')
        with pytest.raises(RegistryError, match="not an antifake registry"):
            Registry(foreign)
    finally:
        pg_server.drop_schema(foreign)


def test_two_processes_create_one_schema(pg: str) -> None:
    """Opening a new registry from several connections at once creates it once."""
    u = pg_server.fresh_schema_url(pg)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_it() -> None:
        try:
            barrier.wait()
            Registry(u).close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        ts = [threading.Thread(target=open_it) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors
    finally:
        pg_server.drop_schema(u)


def test_urls_and_errors(pg: str) -> None:
    with pytest.raises(RegistryError, match="cannot open (PostgreSQL )?registry"):
        Registry("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    try:
        Registry("postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    except RegistryError as exc:
        assert "secret" not in str(exc)
    with pytest.raises(RegistryError, match="synchronous"):
        PostgresStorage(pg + "?synchronous=off")
    u = pg_server.fresh_schema_url(pg) + "&synchronous=normal&timeout=5"
    try:
        with Registry(u) as r:
            assert r.storage.schema == u.split("schema=")[1].split("&")[0]
            assert r.storage._one("SHOW synchronous_commit")[0] == "off"
            assert r.storage._one("SHOW lock_timeout")[0] == "5s"
    finally:
        pg_server.drop_schema(u)
